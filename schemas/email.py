"""Email-platform events (delivered, open, click, reply, bounce, unsubscribe).

Every email event is about a known lead, so the envelope must carry lead_id.
"""

from __future__ import annotations

from typing import Literal

from schemas.envelope import Name, Properties, Url

EmailTopic = Literal["pricing", "product", "case_study", "webinar", "newsletter", "event", "other"]


class _EmailMessage(Properties):
    campaign_id: Name
    message_id: Name


class EmailDeliveredProperties(_EmailMessage):
    pass


class EmailOpenProperties(_EmailMessage):
    """Opens are noisy (image proxies pre-fetch), which is why they are scored separately."""


class EmailClickProperties(_EmailMessage):
    url: Url
    topic: EmailTopic
    """What the clicked link is about; a pricing click says more than a newsletter click."""


class EmailReplyProperties(_EmailMessage):
    pass


class EmailBounceProperties(_EmailMessage):
    bounce_type: Literal["hard", "soft"]


class EmailUnsubscribeProperties(Properties):
    """campaign/message are optional: unsubscribes also come from preference centres."""

    campaign_id: Name | None = None
    message_id: Name | None = None
