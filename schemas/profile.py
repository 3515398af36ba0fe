"""Profile updates from the CRM or an enrichment provider (firmographics and the person's role).

Every field is optional: enrichment arrives piecemeal and a profile_update means "these fields
changed". seniority and department are DERIVED from job_title (schemas.titles) when job_title is
present, so that every producer's spelling of a title lands on the same two model features; a
producer may send them, but the derived value wins.

owner and territory are the CRM's routing facts, read by the pager (streams/integrations/pager)
to send a lead's alerts to its rep; they are no model features (models/state.py keeps only
PROFILE_FIELDS), so adding them changed no score.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from schemas.envelope import IsoDate, Name, NonNegInt, Properties, Text
from schemas.titles import Department, Seniority, normalise_title

RevenueBand = Literal["<1M", "1M-10M", "10M-50M", "50M-250M", "250M-1B", ">1B"]
FundingRound = Literal[
    "pre_seed", "seed", "series_a", "series_b", "series_c", "series_d_plus", "ipo", "other"
]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Country = Annotated[Text, Field(pattern=r"^[A-Z]{2}$"), BeforeValidator(_upper)]
"""ISO-3166-1 alpha-2 ("DE", "US"); case-insensitive on input."""
Domain = Annotated[
    Text,
    Field(max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"),
    BeforeValidator(_lower),
]
"""Bare registrable domain ("acme.com"), lower-cased; not a URL."""


class ProfileUpdateProperties(Properties):
    company_name: Name | None = None
    company_domain: Domain | None = None
    employee_count: NonNegInt | None = None
    revenue_band: RevenueBand | None = None
    industry: Name | None = None
    country: Country | None = None
    funding_round: FundingRound | None = None
    funding_date: IsoDate | None = None
    job_title: Name | None = None
    seniority: Seniority | None = None
    department: Department | None = None
    owner: Name | None = Field(
        default=None,
        description="The sales rep who owns the lead in the CRM (an email or CRM user id); "
        "the pager routes alerts and counts its hourly cap by it. Not a model feature.")
    territory: Name | None = Field(
        default=None,
        description='The sales territory the CRM assigns ("EMEA", "NA-West"); the pager routes '
        "by it. Not a model feature.")

    @model_validator(mode="before")
    @classmethod
    def _derive_role(cls, data: Any) -> Any:
        """Overwrite seniority/department from job_title; leave bad input to field validation."""
        if isinstance(data, dict) and isinstance(data.get("job_title"), str):
            seniority, department = normalise_title(data["job_title"])
            data = {**data, "seniority": seniority, "department": department}
        return data
