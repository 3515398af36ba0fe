"""Product-usage events from the app (signup, trial, login, feature use, ...)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from schemas.envelope import Name, PositiveInt, Properties


class SignupProperties(Properties):
    plan: Name | None = None
    method: Literal["email", "google", "github", "sso", "other"] | None = None


class TrialStartedProperties(Properties):
    plan: Name
    trial_days: PositiveInt


class LoginProperties(Properties):
    """No properties: the event itself (and its time) is the signal."""


class FeatureUsedProperties(Properties):
    feature: Name


class IntegrationConnectedProperties(Properties):
    integration: Name


class TeammateInvitedProperties(Properties):
    invitee_count: Annotated[StrictInt, Field(ge=1)] = 1


class SupportTicketProperties(Properties):
    topic: Name
    severity: Literal["low", "normal", "high", "urgent"]
