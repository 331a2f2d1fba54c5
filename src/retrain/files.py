"""One reader for the files people give the command line (data windows and configs) and for tables in S3.

Every read failure becomes a typed error that names the file, its role (the
``--reference`` data, the ``--current`` window, the ``--config``) and the
problem, so that a bad input is reported in well under a second, before any
cloud is started:

- a missing path: :class:`~retrain.errors.DataNotFound`;
- a directory, an empty (0-byte) file, an unreadable encoding (UTF-8 is read,
  with or without a byte-order mark; UTF-16 and Latin-1 are named), a corrupt
  Parquet or gzip file, a format that is not read: :class:`~retrain.errors.UnreadableData`;
- duplicated column names (pandas would silently rename the second
  ``income`` to ``income.1``): :class:`~retrain.errors.SchemaMismatch`;
- a table with a header and no rows: :class:`~retrain.errors.InsufficientData`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from retrain.errors import DataNotFound, InsufficientData, RetrainError, SchemaMismatch, UnreadableData

if TYPE_CHECKING:
    import pandas as pd

#: File name endings read as tables.
TABLE_SUFFIXES = (".parquet", ".csv", ".csv.gz")

#: Role -> how messages name a file given on the command line.
ROLES = {
    "reference": "--reference data",
    "current": "--current window",
    "config": "--config",
}

_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"


def describe(path: str | Path, role: str) -> str:
    """How a message names ``path``: ``--current window data/cur.csv``."""
    return f"{ROLES.get(role, role)} {path}"


def read_bytes(path: str | Path, role: str) -> bytes:
    """The bytes of a file the user named; refuses a missing path, a directory and an empty file."""
    path = Path(path)
    what = describe(path, role)
    if not path.exists():
        raise DataNotFound(f"{what} does not exist")
    if path.is_dir():
        raise UnreadableData(f"{what} is a directory; give the path of a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableData(f"{what} cannot be read: {exc.strerror or exc}") from exc
    if not data:
        raise UnreadableData(f"{what} is empty (0 bytes)")
    return data


def decode_text(data: bytes, what: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); any other encoding is refused, named when recognisable."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnreadableData(f"{what} is UTF-16 encoded (it starts with a UTF-16 byte-order mark); save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        guess = "; it looks like Latin-1 or Windows-1252" if 0x80 <= byte <= 0xFF else ""
        raise UnreadableData(
            f"{what} is not UTF-8: byte 0x{byte:02x} on line {line} cannot be decoded{guess}; save it as UTF-8"
        ) from exc


def read_text(path: str | Path, role: str) -> str:
    """A UTF-8 text file the user named (a YAML config)."""
    return decode_text(read_bytes(path, role), describe(path, role))


@dataclass(frozen=True)
class RawTable:
    """A table's bytes, checked without parsing: not empty, a format that is read, UTF-8 text for CSV.

    ``text`` is the decoded CSV (None for Parquet); ``what`` names the table in errors.
    """

    name: str
    what: str
    data: bytes
    text: str | None


def load_table(path: str | Path, role: str) -> RawTable:
    """Read a table file the user named and check what can be checked without parsing it (no pandas import).

    Raises
    ------
    DataNotFound, UnreadableData, SchemaMismatch
        See the module's docstring.
    """
    path = Path(path)
    return raw_table(read_bytes(path, role), path.name, what=describe(path, role))


def raw_table(data: bytes, name: str, *, what: str | None = None) -> RawTable:
    """Check a table's bytes (format by ``name``'s ending) without parsing them; see :func:`load_table`."""
    what = what or name
    lowered = name.lower()
    if not data:
        raise UnreadableData(f"{what} is empty (0 bytes)")
    if lowered.endswith(".parquet"):
        if data.startswith(_GZIP_MAGIC) or not (data.startswith(_PARQUET_MAGIC) and data.endswith(_PARQUET_MAGIC)):
            raise UnreadableData(
                f"{what} is not a Parquet file (a Parquet file starts and ends with 'PAR1'; it may be truncated "
                "or another format)"
            )
        return RawTable(name, what, data, None)
    if not lowered.endswith((".csv", ".csv.gz")):
        suffix = Path(name).suffix or "(no suffix)"
        raise UnreadableData(f"{what}: the format {suffix!r} is not read; use {_formats()}")
    if lowered.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise UnreadableData(f"{what} is not a valid gzip file: {exc}") from exc
    if data.startswith(_PARQUET_MAGIC):
        raise UnreadableData(f"{what} is a Parquet file named as CSV; rename it to .parquet")
    text = decode_text(data, what)
    if not text.strip():
        raise UnreadableData(f"{what} holds no header and no rows (only whitespace)")
    _refuse_duplicates(next(csv.reader(io.StringIO(text)), []), what)
    return RawTable(name, what, data, text)


def parse(raw: RawTable) -> pd.DataFrame:
    """The table of checked bytes (pandas and pyarrow are imported here, not before).

    Raises
    ------
    UnreadableData
        Corrupt Parquet, or CSV that cannot be parsed.
    SchemaMismatch
        A Parquet column name appears twice.
    """
    import pandas as pd

    if raw.text is None:
        return _parquet(raw.data, raw.what)
    try:
        return pd.read_csv(io.StringIO(raw.text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise UnreadableData(f"{raw.what} is not valid CSV: {exc}".strip()) from exc


def read_table(path: str | Path, role: str) -> pd.DataFrame:
    """A CSV (``.csv``, ``.csv.gz``) or Parquet table the user named, with at least one row."""
    return require_rows(parse(load_table(path, role)), describe(path, role))


def require_rows(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """``frame``, if it has a row; :class:`~retrain.errors.InsufficientData` naming ``what`` if not."""
    if frame.empty:
        raise InsufficientData(f"{what} has a header but no rows")
    return frame


def parse_table(data: bytes, name: str, *, what: str | None = None) -> pd.DataFrame:
    """Parse CSV or Parquet bytes, chosen by ``name``'s ending; ``what`` names the table in errors (default ``name``).

    Raises
    ------
    UnreadableData
        Empty, corrupt, not UTF-8 (CSV), or not a table format that is read.
    SchemaMismatch
        A column name appears twice.
    """
    return parse(raw_table(data, name, what=what))


def _parquet(data: bytes, what: str) -> pd.DataFrame:
    """Parquet through pandas' engine (pyarrow locally, fastparquet in the Lambda layer); each raises its own types."""
    import pandas as pd

    try:
        _refuse_duplicates(_parquet_columns(data), what)
        frame = pd.read_parquet(io.BytesIO(data))
    except RetrainError:
        raise
    except Exception as exc:
        raise UnreadableData(f"{what} is a corrupt Parquet file: {type(exc).__name__}: {exc}") from exc
    _refuse_duplicates([str(c) for c in frame.columns], what)
    return frame


def _parquet_columns(data: bytes) -> list[str]:
    """The column names in a Parquet file's schema, when pyarrow is installed (an engine may refuse duplicates
    with a message that does not say so); [] otherwise."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return []
    return list(pq.read_schema(io.BytesIO(data)).names)


def _refuse_duplicates(columns: list[str], what: str) -> None:
    repeated = [name for name, count in Counter(columns).items() if count > 1]
    if repeated:
        names = ", ".join(repr(name) for name in repeated)
        raise SchemaMismatch(f"{what} has duplicated column names: {names}; every column needs its own name")


def _formats() -> str:
    return ", ".join(TABLE_SUFFIXES)
