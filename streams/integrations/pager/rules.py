"""Which route an alert takes, and whether it is paged now, held for quiet hours or held
over the rep's hourly cap: pure functions of the alert, the lead's profile and the clock.

Routes are tried in file order and the first match wins (put specific routes first and a
catch-all last). The rep an hourly cap counts for is the lead's owner; a lead without an
owner counts against its route (``route:NAME``), so an unassigned flood is capped too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from schemas import Alert
from streams.integrations.pager.config import MATCH_KEYS, Route

HOUR = 3600


def facts(alert: Alert, profile: Mapping[str, Any]) -> dict[str, str | None]:
    """What a route's ``match`` is checked against."""
    return {"owner": profile.get("owner"), "territory": profile.get("territory"),
            "country": profile.get("country"), "tier": alert.to_tier, "kind": alert.kind}


def route_for(alert: Alert, profile: Mapping[str, Any], routes: Sequence[Route]) -> Route | None:
    known = facts(alert, profile)
    for route in routes:
        wanted = {k: getattr(route.match, k) for k in MATCH_KEYS}
        if all(allowed is None or known[k] in allowed for k, allowed in wanted.items()):
            return route
    return None


def rep_of(profile: Mapping[str, Any], route: Route) -> str:
    owner = profile.get("owner")
    return str(owner) if owner else f"route:{route.name}"


def hour_of(now: datetime) -> int:
    return int(now.timestamp() // HOUR)


@dataclass(frozen=True)
class Decision:
    action: Literal["page", "hold"]
    reason: Literal["quiet_hours", "hourly_cap"] | None = None
    release_at: datetime | None = None


def decide(route: Route, now: datetime, pages_this_hour: int) -> Decision:
    """Page now, or hold until quiet hours end / the hour ends (then one digest)."""
    if route.quiet_hours is not None:
        until = route.quiet_hours.until(now)
        if until is not None:
            return Decision("hold", "quiet_hours", until)
    if route.hourly_cap is not None and pages_this_hour >= route.hourly_cap:
        return Decision("hold", "hourly_cap",
                        datetime.fromtimestamp((hour_of(now) + 1) * HOUR, UTC))
    return Decision("page")
