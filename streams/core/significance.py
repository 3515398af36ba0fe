"""Which events trigger a re-score.

Scoring every event would spend the model on page views of the careers page; scoring none
until a timer fires would make the product as slow as the CRMs it replaces. The rule is a
list of selectors, each ``type`` or ``type:page_category`` (for page views), configured with
LEADSCORE_SIGNIFICANT_EVENTS. The default list is what sales teams act on: buying-intent
pages, hand-raisers, trial and adoption milestones, replies, and anything that changes who
the lead is (profile, identity, a lost deal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from models.snapshots import SIGNIFICANT_EVENTS
from schemas import EVENT_TYPES, Event
from schemas.fastpath import FastEvent

# The list lives with the model (models.snapshots), which trains on snapshots taken right
# after these events: the population the worker scores is the one the model is calibrated for.
DEFAULT_SIGNIFICANT = SIGNIFICANT_EVENTS
# converted/disqualified close a lead: it is not scored any more, so they trigger nothing.


@dataclass(frozen=True)
class SignificanceRule:
    types: frozenset[str]
    page_categories: frozenset[str]

    def __call__(self, event: Event | FastEvent) -> bool:
        if event.type in self.types:
            return True
        if event.type == "page_view":
            return getattr(event.properties, "page_category", None) in self.page_categories
        return False


def parse_rule(selectors: Iterable[str]) -> SignificanceRule:
    """Build a rule from selectors; unknown types are a configuration error, said plainly."""
    types: set[str] = set()
    pages: set[str] = set()
    for raw in selectors:
        sel = raw.strip()
        if not sel:
            continue
        name, _, category = sel.partition(":")
        if name not in EVENT_TYPES:
            raise ValueError(f"significant-event selector {sel!r}: unknown event type {name!r}")
        if category:
            if name != "page_view":
                raise ValueError(f"significant-event selector {sel!r}: only page_view takes "
                                 "a ':category'")
            pages.add(category)
        else:
            types.add(name)
    return SignificanceRule(frozenset(types), frozenset(pages))


DEFAULT_RULE = parse_rule(DEFAULT_SIGNIFICANT)
