"""Website events: what a tracking pixel / JS tracker sends.

Web events are the only ones that may arrive before we know who the visitor is, so they may carry
only an anonymous_id; `identify` is the event that links that anonymous_id to a lead_id.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.envelope import (
    Identifier,
    LongText,
    Name,
    NonNegFloat,
    NonNegInt,
    Properties,
    Text,
    Url,
)

PageCategory = Literal[
    "pricing", "case_study", "competitor_comparison", "docs", "blog", "careers", "home",
    "product", "other",
]
"""Coarse page intent. Pricing and competitor pages signal buying; careers signals a job seeker."""

Path = Annotated[Text, Field(min_length=1, max_length=2048, pattern=r"^/")]
Email = Annotated[
    Text, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


class PageViewProperties(Properties):
    url: Url
    path: Path
    page_category: PageCategory
    title: Name | None = None
    referrer: Url | None = None


class SessionStartProperties(Properties):
    session_id: Identifier
    landing_url: Url | None = None
    referrer: Url | None = None
    device: Literal["desktop", "mobile", "tablet"] | None = None


class SessionEndProperties(Properties):
    session_id: Identifier
    duration_seconds: NonNegFloat
    page_count: NonNegInt
    """Session depth: pages viewed in the session."""


class ContentDownloadProperties(Properties):
    content_type: Literal["whitepaper", "case_study", "ebook", "report", "datasheet", "webinar"]
    title: Name
    url: Url | None = None


class FormSubmitProperties(Properties):
    form_id: Name
    form_name: Name | None = None


class DemoRequestProperties(Properties):
    form_id: Name | None = None
    message: LongText | None = None


class SiteSearchProperties(Properties):
    query: Annotated[Text, Field(min_length=1, max_length=512)]


class IdentifyProperties(Properties):
    """The envelope of an identify event must carry BOTH lead_id and anonymous_id."""

    email: Email
