"""What a rep reads: one page per alert, one digest per held batch, in two wire forms.

A page says who the lead is (company, title, from the profile), what happened (the alert),
why (the top factors of the score change that explains this score, in points and sentences)
and what to do (the recommended action). ``slack`` is ``{"text", "blocks"}`` for any
Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat); ``json`` carries the same
text plus every field, for a program. Both carry the idempotency key (also sent as the
``Idempotency-Key`` header), so a receiver can drop a re-send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from schemas import Alert

ICONS = {"entered_tier": "🔥", "spike": "📈", "decline": "📉"}
REASONS = {"quiet_hours": "held during quiet hours", "hourly_cap": "over the hourly cap"}


def points(p: float) -> str:
    return f"{round(p):+d}" if round(p) != 0 else ("+0" if p >= 0 else "-0")


def explaining(alert: Alert, score: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The latest score change if it explains this alert's score, else None (never show
    reasons for another score)."""
    return score if score is not None and score.get("score") == alert.to_score else None


def title(alert: Alert, profile: Mapping[str, Any]) -> str:
    who = profile.get("company_name") or alert.lead_id
    role = f" ({profile['job_title']})" if profile.get("job_title") else ""
    was = f", was {alert.from_score}" if alert.from_score is not None else ""
    what = {"entered_tier": f"{alert.to_tier.capitalize()} lead",
            "spike": "Spiking lead", "decline": "Cooling lead"}[alert.kind]
    return f"{ICONS[alert.kind]} *{what}: {who}*{role} · score {alert.to_score}{was}"


def page_text(alert: Alert, profile: Mapping[str, Any],
              score: Mapping[str, Any] | None) -> str:
    lines = [title(alert, profile), alert.reason]
    why = explaining(alert, score)
    if why and why.get("top_factors"):
        lines.append("Why:")
        lines += [f"• {points(f['points'])} {f['sentence']}" for f in why["top_factors"]]
    if why and why.get("recommended_action"):
        lines.append(f"Next: {why['recommended_action']}")
    tail = [f"lead {alert.lead_id}"]
    tail += [str(profile[k]) for k in ("owner", "territory", "country") if profile.get(k)]
    tail.append(f"model {alert.model_version}")
    lines.append(" · ".join(tail))
    return "\n".join(lines)


def page_body(fmt: str, alert: Alert, profile: Mapping[str, Any],
              score: Mapping[str, Any] | None, route: str, rep: str) -> dict[str, Any]:
    text = page_text(alert, profile, score)
    if fmt == "slack":
        return _slack(text)
    why = explaining(alert, score) or {}
    return {"type": "leadscore.page", "idempotency_key": alert.idempotency_key,
            "route": route, "rep": rep, "text": text,
            "alert": alert.model_dump(mode="json", exclude_none=True),
            "lead": dict(profile), "reasons": list(why.get("top_factors", [])),
            "recommended_action": why.get("recommended_action")}


def digest_key(keys: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(sorted(keys)).encode()).hexdigest()[:32]


def digest_text(items: Sequence[Mapping[str, Any]], reason: str, rep: str,
                max_items: int) -> str:
    head = (f"🗂 *{len(items)} lead alert{'s' if len(items) != 1 else ''} for {rep}*, "
            f"{REASONS.get(reason, reason)}:")
    lines = [head]
    for it in items[:max_items]:
        alert, profile = Alert.model_validate(it["alert"]), it.get("lead", {})
        who = profile.get("company_name") or alert.lead_id
        lines.append(f"• {ICONS[alert.kind]} {who}: {alert.reason} (lead {alert.lead_id})")
    if len(items) > max_items:
        lines.append(f"… and {len(items) - max_items} more")
    return "\n".join(lines)


def digest_body(fmt: str, items: Sequence[Mapping[str, Any]], reason: str, route: str,
                rep: str, max_items: int) -> dict[str, Any]:
    text = digest_text(items, reason, rep, max_items)
    if fmt == "slack":
        return _slack(text)
    return {"type": "leadscore.digest",
            "idempotency_key": digest_key([i["alert"]["idempotency_key"] for i in items]),
            "reason": reason, "route": route, "rep": rep, "text": text,
            "alerts": [dict(i) for i in items]}


def _slack(text: str) -> dict[str, Any]:
    return {"text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]}
