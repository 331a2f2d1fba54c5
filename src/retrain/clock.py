"""Times as the steps exchange them: ISO-8601 strings, aware UTC datetimes. Light: stdlib only."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: str | datetime) -> datetime:
    """Parse an ISO-8601 time (``Z`` accepted) into an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
