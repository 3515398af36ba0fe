"""Reading the previous schema version.

Rule (see schemas/README.md, "Versioning"): a change that an old reader survives is compatible
and keeps the version; anything else bumps schema_version, and readers accept the current AND
the previous version for at least one release, upgrading old messages on read. Upgrades are pure
dict -> dict functions so they are trivially testable and can be chained.

v1 -> v2 (the one breaking change so far): the event time was called `timestamp` in v1; v2
calls it `occurred_at` to make "event time, not processing time" explicit.
"""

from __future__ import annotations

from typing import Any

from schemas.envelope import CURRENT_SCHEMA_VERSION, PREVIOUS_SCHEMA_VERSION


def upgrade_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Return a v2 envelope for a v1 one (a new dict; the input is not modified).

    If a v1 message somehow carries both names, it is left for validation to reject as an
    unknown field rather than silently choosing one of two event times.
    """
    upgraded = dict(data)
    if "timestamp" in upgraded and "occurred_at" not in upgraded:
        upgraded["occurred_at"] = upgraded.pop("timestamp")
    upgraded["schema_version"] = 2
    return upgraded


def upgrade_event_dict(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a decoded input event to CURRENT_SCHEMA_VERSION (no-op if it already is, or if the
    version is not one we can upgrade from; validation reports that)."""
    version = data.get("schema_version")
    if version == PREVIOUS_SCHEMA_VERSION and not isinstance(version, bool):
        data = upgrade_v1_to_v2(data)
    assert CURRENT_SCHEMA_VERSION == 2, "add the next upgrade step here when bumping"
    return data
