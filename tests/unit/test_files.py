"""Specification of retrain.files: one reader for the tables and configs people name, every failure typed and named."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pandas as pd
import pytest

from retrain import files
from retrain.errors import DataNotFound, InsufficientData, SchemaMismatch, UnreadableData

pytestmark = pytest.mark.unit

FRAME = pd.DataFrame({"income": [1.5, 2.0], "plan": ["é-basic", "pro"]})


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param("w.csv", FRAME.to_csv(index=False).encode(), id="csv"),
        pytest.param("w.csv", codecs.BOM_UTF8 + FRAME.to_csv(index=False).encode(), id="csv with a UTF-8 BOM"),
        pytest.param("w.csv.gz", gzip.compress(FRAME.to_csv(index=False).encode()), id="gzip csv"),
        pytest.param("w.parquet", FRAME.to_parquet(index=False), id="parquet"),
    ],
)
def test_a_table_is_read_from_each_format(tmp_path: Path, name: str, data: bytes) -> None:
    frame = files.read_table(write(tmp_path / name, data), "current")

    pd.testing.assert_frame_equal(frame, FRAME)


@pytest.mark.parametrize(
    ("name", "data", "error", "words"),
    [
        pytest.param("w.csv", b"", UnreadableData, "is empty (0 bytes)", id="empty"),
        pytest.param("w.csv", b" \n\n", UnreadableData, "only whitespace", id="whitespace"),
        pytest.param(
            "w.csv",
            "a,plan\n1,café\n".encode("latin-1"),
            UnreadableData,
            "is not UTF-8: byte 0xe9 on line 2 cannot be decoded; it looks like Latin-1",
            id="latin-1",
        ),
        pytest.param("w.csv", "a,b\n1,2\n".encode("utf-16"), UnreadableData, "is UTF-16 encoded", id="utf-16"),
        pytest.param("w.parquet", b"PAR1 not really PAR1", UnreadableData, "is a corrupt Parquet file", id="corrupt"),
        pytest.param("w.parquet", b"a,b\n1,2\n", UnreadableData, "is not a Parquet file", id="csv named parquet"),
        pytest.param(
            "w.csv", FRAME.to_parquet(), UnreadableData, "is a Parquet file named as CSV", id="parquet as csv"
        ),
        pytest.param("w.csv.gz", b"a,b\n1,2\n", UnreadableData, "is not a valid gzip file", id="not gzip"),
        pytest.param(
            "w.xlsx", b"PK\x03\x04", UnreadableData, "the format '.xlsx' is not read; use .parquet", id="xlsx"
        ),
        pytest.param(
            "w.csv", b"income,plan,income\n1,a,2\n", SchemaMismatch, "duplicated column names: 'income'", id="dup"
        ),
        pytest.param("w.csv", b"a,b\n", InsufficientData, "has a header but no rows", id="header only"),
        pytest.param("w.csv", b'a,b\n"1,2\n', UnreadableData, "is not valid CSV", id="unclosed quote"),
    ],
)
def test_every_unreadable_table_is_a_typed_error_naming_the_file_and_its_role(
    tmp_path: Path, name: str, data: bytes, error: type[Exception], words: str
) -> None:
    path = write(tmp_path / name, data)

    with pytest.raises(error) as raised:
        files.read_table(path, "reference")

    assert str(raised.value).startswith(f"--reference data {path}")
    assert words in str(raised.value)


def test_duplicated_parquet_columns_are_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "w.parquet"
    pq.write_table(pa.table([pa.array([1]), pa.array([2])], names=["x", "x"]), path)

    with pytest.raises(SchemaMismatch, match=r"--current window .*w\.parquet has duplicated column names: 'x'"):
        files.read_table(path, "current")


def test_a_missing_path_and_a_directory_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound, match=r"^--current window .*nope\.csv does not exist$"):
        files.read_table(tmp_path / "nope.csv", "current")
    with pytest.raises(UnreadableData, match=r"is a directory; give the path of a file"):
        files.read_table(tmp_path, "current")


def test_a_table_in_s3_is_named_by_its_uri() -> None:
    with pytest.raises(UnreadableData, match=r"^s3://b/inference/m/date=2024-05-01/x\.parquet is not a Parquet file"):
        files.parse_table(b"oops", "x.parquet", what="s3://b/inference/m/date=2024-05-01/x.parquet")


def test_config_text_accepts_a_byte_order_mark_and_refuses_latin_1(tmp_path: Path) -> None:
    good = write(tmp_path / "a.yaml", codecs.BOM_UTF8 + "model: café\n".encode())
    bad = write(tmp_path / "b.yaml", "model: café\n".encode("latin-1"))

    assert files.read_text(good, "config") == "model: café\n"
    with pytest.raises(UnreadableData, match=r"^--config .*b\.yaml is not UTF-8: byte 0xe9 on line 1"):
        files.read_text(bad, "config")


def test_checking_a_file_imports_neither_pandas_nor_scikit_learn(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path / "w.csv", b"")
    code = (
        "import sys\nfrom retrain.local.inputs import read_inputs\n"
        f"try:\n    read_inputs('infra/configs/churn.yaml', {str(path)!r}, {str(path)!r})\n"
        "except Exception as exc:\n    print(type(exc).__name__)\n"
        "print(sorted(m for m in ('pandas', 'sklearn', 'moto', 'pyarrow') if m in sys.modules))\n"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout

    assert out.split("\n")[:2] == ["UnreadableData", "[]"]
