"""The pager's routing file (TOML), validated with pydantic: webhooks, routes, quiet hours,
hourly caps, retries. A mistake is one line naming the file, the field and what is wrong.

Why TOML: Python reads it without a dependency (tomllib), it has real types (a cap is a
number, not the string "5"), and it is what pyproject.toml taught every Python user. Secrets
(Slack webhook URLs, tokens) need not be in the file: ``${NAME}`` in a URL or a header value is
replaced by the environment variable NAME when the file is loaded.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class ConfigError(Exception):
    """The routing file is missing or wrong; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Values = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_listify),
                   Field(min_length=1)]


class Retry(_Strict):
    """Each delivery is tried ``attempts`` times, waiting first_delay, then twice as long each
    time up to max_delay (a 429/503 ``Retry-After`` is honoured up to max_delay)."""

    attempts: int = Field(5, ge=1, le=20)
    first_delay_seconds: float = Field(1.0, gt=0, le=300)
    max_delay_seconds: float = Field(30.0, gt=0, le=600)
    timeout_seconds: float = Field(5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _ordered(self) -> Retry:
        if self.max_delay_seconds < self.first_delay_seconds:
            raise ValueError("max_delay_seconds must be at least first_delay_seconds")
        return self

    def delays(self) -> list[float]:
        return [min(self.first_delay_seconds * 2 ** i, self.max_delay_seconds)
                for i in range(self.attempts - 1)]

    def budget_seconds(self) -> float:
        """The longest one delivery can take: every attempt timing out, every wait."""
        return self.attempts * self.timeout_seconds + sum(self.delays())


class Webhook(_Strict):
    url: str
    format: Literal["slack", "json"] = Field(
        "slack", description="slack: {text, blocks} for Slack-compatible incoming webhooks; "
        "json: the alert, the lead and the reasons as plain JSON.")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"not an http(s) URL: {value[:80]!r}")
        return value


class QuietHours(_Strict):
    """From ``start`` to ``end`` local time (may cross midnight), nothing is paged on the
    route; what arrives is held and sent as one digest when quiet hours end."""

    start: time
    end: time
    timezone: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"\d{2}:\d{2}", value):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name: "
                             "Europe/Berlin, America/New_York, UTC)") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: quiet hours would be empty")
        return self

    def until(self, now: datetime) -> datetime | None:
        """When the quiet period ``now`` falls in ends (aware), or None when not quiet."""
        tz = ZoneInfo(self.timezone)
        local = now.astimezone(tz)
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside = self.start <= t < self.end
            end_day = local.date()
        else:  # across midnight: 20:00 -> 08:00
            inside = t >= self.start or t < self.end
            end_day = local.date() + timedelta(days=1) if t >= self.start else local.date()
        if not inside:
            return None
        return datetime.combine(end_day, self.end, tzinfo=tz)


MATCH_KEYS = ("owner", "territory", "tier", "kind", "country")


class Match(_Strict):
    """Every key given must match (a list means any of); a key not given matches anything.
    owner, territory and country come from the lead's profile; tier (the alert's new tier)
    and kind (entered_tier, spike, decline) from the alert."""

    owner: Values | None = None
    territory: Values | None = None
    tier: Values | None = None
    kind: Values | None = None
    country: Values | None = None


class Route(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    webhook: str
    match: Match = Field(default_factory=Match)
    quiet_hours: QuietHours | None = None
    hourly_cap: int | None = Field(
        None, ge=1, description="Most pages per rep per clock hour on this route; the rest "
        "are sent as one digest when the hour ends.")


class PagerConfig(_Strict):
    retry: Retry = Field(default_factory=Retry)
    webhooks: dict[str, Webhook] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)
    dedupe_days: float = Field(
        30.0, gt=0, description="How long an idempotency key is remembered (keep it above "
        "the alerts topic's retention, so a full replay pages nobody twice).")
    digest_max_items: int = Field(20, ge=1, le=200)

    @model_validator(mode="after")
    def _references(self) -> PagerConfig:
        names = [r.name for r in self.routes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"route names must be unique: {', '.join(dupes)}")
        for i, r in enumerate(self.routes):
            if r.webhook not in self.webhooks:
                raise ValueError(f"routes[{i}] ({r.name}) names webhook {r.webhook!r}, which "
                                 f"is not defined (defined: {', '.join(sorted(self.webhooks))})")
        return self

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str, where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise ConfigError(f"{where} uses ${{{name}}}, but the environment variable "
                              f"{name} is not set")
        return os.environ[name]

    return _VAR.sub(sub, value)


def _expand_secrets(doc: dict[str, Any]) -> dict[str, Any]:
    hooks = doc.get("webhooks")
    if not isinstance(hooks, dict):
        return doc
    out = dict(doc)
    out["webhooks"] = {}
    for name, hook in hooks.items():
        if isinstance(hook, dict):
            hook = dict(hook)
            if isinstance(hook.get("url"), str):
                hook["url"] = _expand(hook["url"], f"webhooks.{name}.url")
            if isinstance(hook.get("headers"), dict):
                hook["headers"] = {k: _expand(v, f"webhooks.{name}.headers.{k}")
                                   if isinstance(v, str) else v
                                   for k, v in hook["headers"].items()}
        out["webhooks"][name] = hook
    return out


def parse(text: str) -> PagerConfig:
    """The config from TOML text; ConfigError (one line) when it is not valid."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    try:
        return PagerConfig.model_validate(_expand_secrets(doc))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        msg = first["msg"].removeprefix("Value error, ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{where}: {msg}{more}") from None


def load(path: Path) -> PagerConfig:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return parse(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
