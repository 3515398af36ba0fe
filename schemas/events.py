"""The input event envelope and one concrete class per event type.

Design: `Event` is the envelope; each type (`PageViewEvent`, ...) narrows `type` to a Literal and
`properties` to its own model, so a discriminated union on `type` gives precise errors
(`properties.page_category`) and per-type JSON Schemas. `isinstance(ev, Event)` holds for all of
them. `Event(...)` / `Event.model_validate(...)` also work directly: the envelope dispatches
`properties` to the right model by `type`, so `ev.properties.page_category` works either way.
Narrow with `isinstance(ev, PageViewEvent)` to get static typing of `ev.properties`.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

import schemas.email as email
import schemas.feedback as feedback
import schemas.outcome as outcome
import schemas.product as product
import schemas.profile as profile
import schemas.website as website
from schemas.envelope import (
    CURRENT_SCHEMA_VERSION,
    MAX_SOURCE_LENGTH,
    Contract,
    Identifier,
    Properties,
    Text,
    UtcDatetime,
    check_schema_version,
)
from schemas.versioning import upgrade_event_dict

Category = Literal["website", "email", "product", "profile", "outcome", "feedback"]

TOPIC_FOR_CATEGORY: dict[str, str] = {
    "website": "events.website",
    "email": "events.email",
    "product": "events.product",
    "profile": "leads.profile",
    "outcome": "leads.outcomes",
    "feedback": "leads.feedback",
}
"""Input topic per category. Output topics are in schemas.outputs (OUTPUT_TOPICS)."""

# type -> (category, properties model). The single source of truth for the catalogue.
_CATALOGUE: dict[str, tuple[str, type[Properties]]] = {
    "page_view": ("website", website.PageViewProperties),
    "session_start": ("website", website.SessionStartProperties),
    "session_end": ("website", website.SessionEndProperties),
    "content_download": ("website", website.ContentDownloadProperties),
    "form_submit": ("website", website.FormSubmitProperties),
    "demo_request": ("website", website.DemoRequestProperties),
    "site_search": ("website", website.SiteSearchProperties),
    "identify": ("website", website.IdentifyProperties),
    "email_delivered": ("email", email.EmailDeliveredProperties),
    "email_open": ("email", email.EmailOpenProperties),
    "email_click": ("email", email.EmailClickProperties),
    "email_reply": ("email", email.EmailReplyProperties),
    "email_bounce": ("email", email.EmailBounceProperties),
    "email_unsubscribe": ("email", email.EmailUnsubscribeProperties),
    "signup": ("product", product.SignupProperties),
    "trial_started": ("product", product.TrialStartedProperties),
    "login": ("product", product.LoginProperties),
    "feature_used": ("product", product.FeatureUsedProperties),
    "integration_connected": ("product", product.IntegrationConnectedProperties),
    "teammate_invited": ("product", product.TeammateInvitedProperties),
    "support_ticket": ("product", product.SupportTicketProperties),
    "profile_update": ("profile", profile.ProfileUpdateProperties),
    "converted": ("outcome", outcome.ConvertedProperties),
    "disqualified": ("outcome", outcome.DisqualifiedProperties),
    "lost": ("outcome", outcome.LostProperties),
    "rep_feedback": ("feedback", feedback.RepFeedbackProperties),
}

EVENT_TYPES: dict[str, str] = {name: cat for name, (cat, _) in _CATALOGUE.items()}
"""Event type -> category."""
PROPERTIES_MODELS: dict[str, type[Properties]] = {name: m for name, (_, m) in _CATALOGUE.items()}
"""Event type -> its properties model."""


class Event(Contract):
    """One input event: the envelope shared by every type plus typed `properties`.

    Unknown envelope fields are rejected (a misspelt `ocurred_at` must not pass silently);
    unknown property fields are ignored (see `Properties`).
    """

    event_id: Identifier = Field(description="Unique per event; duplicates are dropped by it.")
    type: str = Field(description="Event type; selects the properties model.")
    occurred_at: UtcDatetime = Field(description="When it happened (event time), with timezone.")
    lead_id: Identifier | None = Field(
        default=None, description="Known lead. Required for every non-website event.")
    anonymous_id: Identifier | None = Field(
        default=None, description="Tracker cookie id for a visitor not yet identified.")
    source: Text = Field(min_length=1, max_length=MAX_SOURCE_LENGTH,
                         description='Producing system, e.g. "web-tracker", "hubspot", "app".')
    schema_version: int = Field(default=CURRENT_SCHEMA_VERSION,
                                description="Contract version this message was written against.")
    properties: Any

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Accept the previous schema version by upgrading it on read (schemas.versioning)."""
        return upgrade_event_dict(data) if isinstance(data, dict) else data

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise PydanticCustomError("unknown_event_type", "unknown event type {type!r}",
                                      {"type": value[:64]})
        return value

    @field_validator("schema_version", mode="before")
    @classmethod
    def _supported_version(cls, value: Any) -> Any:
        return check_schema_version(value)

    @field_validator("properties", mode="before")
    @classmethod
    def _dispatch_properties(cls, value: Any, info: ValidationInfo) -> Any:
        """Only on the bare envelope: subclasses declare their model and validate it themselves."""
        if cls is not Event or isinstance(value, Properties):
            return value
        event_type = info.data.get("type")
        if event_type not in PROPERTIES_MODELS:
            return value
        return PROPERTIES_MODELS[event_type].model_validate(value if value is not None else {})

    @model_validator(mode="after")
    def _identity(self) -> Event:
        """Who the event is about. Keys and state depend on it, so it is checked up front."""
        if self.lead_id is None and self.anonymous_id is None:
            raise PydanticCustomError("missing_identity",
                                      "event has neither lead_id nor anonymous_id")
        if self.type == "identify" and (self.lead_id is None or self.anonymous_id is None):
            raise PydanticCustomError(
                "missing_identity", "identify links anonymous_id to lead_id and needs both")
        if self.lead_id is None and EVENT_TYPES.get(self.type) != "website":
            raise PydanticCustomError(
                "missing_identity", "{type} events must carry lead_id (only website events may "
                "be anonymous)", {"type": self.type})
        return self

    @property
    def category(self) -> str:
        """"website" | "email" | "product" | "profile" | "outcome" | "feedback"."""
        return EVENT_TYPES[self.type]

    @property
    def topic(self) -> str:
        """The input topic this event belongs on."""
        return TOPIC_FOR_CATEGORY[self.category]

    @property
    def key(self) -> str:
        """Kafka message key: lead_id when known, otherwise anonymous_id.

        identify is the exception: it is keyed by anonymous_id, so that it lands on the same
        partition as the visitor's earlier anonymous events; the worker then re-keys the merged
        anonymous state by lead_id (see schemas/README.md, "Keys").
        """
        if self.type == "identify" and self.anonymous_id is not None:
            return self.anonymous_id
        return self.lead_id if self.lead_id is not None else str(self.anonymous_id)

    def to_bytes(self) -> bytes:
        return event_to_bytes(self)


def event_to_bytes(ev: Event) -> bytes:
    """Canonical wire form: compact JSON, UTC timestamps, absent optionals omitted."""
    return orjson.dumps(ev.model_dump(mode="json", exclude_none=True))


# --- one class per type -----------------------------------------------------------------------
# Website


class PageViewEvent(Event):
    type: Literal["page_view"]
    properties: website.PageViewProperties


class SessionStartEvent(Event):
    type: Literal["session_start"]
    properties: website.SessionStartProperties


class SessionEndEvent(Event):
    type: Literal["session_end"]
    properties: website.SessionEndProperties


class ContentDownloadEvent(Event):
    type: Literal["content_download"]
    properties: website.ContentDownloadProperties


class FormSubmitEvent(Event):
    type: Literal["form_submit"]
    properties: website.FormSubmitProperties


class DemoRequestEvent(Event):
    type: Literal["demo_request"]
    properties: website.DemoRequestProperties = website.DemoRequestProperties()


class SiteSearchEvent(Event):
    type: Literal["site_search"]
    properties: website.SiteSearchProperties


class IdentifyEvent(Event):
    type: Literal["identify"]
    properties: website.IdentifyProperties


# Email


class EmailDeliveredEvent(Event):
    type: Literal["email_delivered"]
    properties: email.EmailDeliveredProperties


class EmailOpenEvent(Event):
    type: Literal["email_open"]
    properties: email.EmailOpenProperties


class EmailClickEvent(Event):
    type: Literal["email_click"]
    properties: email.EmailClickProperties


class EmailReplyEvent(Event):
    type: Literal["email_reply"]
    properties: email.EmailReplyProperties


class EmailBounceEvent(Event):
    type: Literal["email_bounce"]
    properties: email.EmailBounceProperties


class EmailUnsubscribeEvent(Event):
    type: Literal["email_unsubscribe"]
    properties: email.EmailUnsubscribeProperties = email.EmailUnsubscribeProperties()


# Product


class SignupEvent(Event):
    type: Literal["signup"]
    properties: product.SignupProperties = product.SignupProperties()


class TrialStartedEvent(Event):
    type: Literal["trial_started"]
    properties: product.TrialStartedProperties


class LoginEvent(Event):
    type: Literal["login"]
    properties: product.LoginProperties = product.LoginProperties()


class FeatureUsedEvent(Event):
    type: Literal["feature_used"]
    properties: product.FeatureUsedProperties


class IntegrationConnectedEvent(Event):
    type: Literal["integration_connected"]
    properties: product.IntegrationConnectedProperties


class TeammateInvitedEvent(Event):
    type: Literal["teammate_invited"]
    properties: product.TeammateInvitedProperties = product.TeammateInvitedProperties()


class SupportTicketEvent(Event):
    type: Literal["support_ticket"]
    properties: product.SupportTicketProperties


# Profile


class ProfileUpdateEvent(Event):
    type: Literal["profile_update"]
    properties: profile.ProfileUpdateProperties = profile.ProfileUpdateProperties()


# Outcome


class ConvertedEvent(Event):
    type: Literal["converted"]
    properties: outcome.ConvertedProperties


class DisqualifiedEvent(Event):
    type: Literal["disqualified"]
    properties: outcome.DisqualifiedProperties = outcome.DisqualifiedProperties()


class LostEvent(Event):
    type: Literal["lost"]
    properties: outcome.LostProperties = outcome.LostProperties()


# Feedback


class RepFeedbackEvent(Event):
    type: Literal["rep_feedback"]
    properties: feedback.RepFeedbackProperties


EVENT_CLASSES: dict[str, type[Event]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in Event.__subclasses__()
}
"""Event type -> its concrete Event subclass."""

assert set(EVENT_CLASSES) == set(EVENT_TYPES), "every catalogue type needs an Event subclass"
assert all(EVENT_CLASSES[t].model_fields["properties"].annotation is m
           for t, m in PROPERTIES_MODELS.items())


def validate_event(data: Any, *, context: dict[str, Any] | None = None) -> Event:
    """Validate an already-decoded dict into its concrete Event subclass.

    Raises pydantic.ValidationError. Producers and tests use this; the consumer uses
    schemas.parse_event, which never raises.
    """
    event_type = data.get("type") if isinstance(data, dict) else None
    cls = EVENT_CLASSES.get(event_type, Event) if isinstance(event_type, str) else Event
    return cls.model_validate(data, context=context)
