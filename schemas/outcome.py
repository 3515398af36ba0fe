"""Outcome events from the CRM: the labels the model is trained on."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from schemas.envelope import LongText, NonNegFloat, Properties, Text


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


Currency = Annotated[Text, Field(pattern=r"^[A-Z]{3}$"), BeforeValidator(_upper)]
"""ISO-4217 code; case-insensitive on input ("eur" -> "EUR")."""


class ConvertedProperties(Properties):
    deal_value: NonNegFloat
    currency: Currency


class DisqualifiedProperties(Properties):
    reason: LongText | None = None


class LostProperties(Properties):
    reason: LongText | None = None
