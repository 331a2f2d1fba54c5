"""Times as the steps exchange them: ISO-8601 strings, aware UTC datetimes. Light: stdlib only."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: str | datetime) -> datetime:
    """Parse an ISO-8601 time (``Z`` accepted) into an aware UTC datetime; a naive time is taken as UTC.

    Every time a step reads from its input goes through here (payload models check theirs with it).

    Raises
    ------
    ValueError
        ``value`` is not an ISO 8601 time, or is out of range once moved to UTC.
    """
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    else:
        parsed = value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range in UTC") from None
