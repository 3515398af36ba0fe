"""Rep feedback: what the person who called a lead says about it (``leads.feedback``).

Why a contract of its own and not a CRM outcome: a rep's verdict arrives minutes after the
call, long before the CRM closes anything, and some verdicts are not outcomes at all
("contacted" only means: do not page me about this lead again for a while). The worker folds
them like any input (validated, dead-lettered when malformed); ``not_a_fit`` closes the lead
as a disqualification would, ``converted_outside_crm`` as a conversion would, and the
trainer reads both as labels (models/snapshots.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.envelope import Identifier, Properties, Text

Verdict = Literal["good_fit", "not_a_fit", "contacted", "converted_outside_crm", "wrong_person"]
VERDICTS: tuple[str, ...] = ("good_fit", "not_a_fit", "contacted", "converted_outside_crm",
                             "wrong_person")
MAX_NOTE_LENGTH = 1000

Note = Annotated[Text, Field(max_length=MAX_NOTE_LENGTH)]


class RepFeedbackProperties(Properties):
    rep_id: Identifier = Field(description="Who gives the feedback (the CRM user id or email).")
    verdict: Verdict = Field(
        description="good_fit, not_a_fit (closes the lead), contacted (no re-paging for "
        "LEADSCORE_FEEDBACK_CONTACTED_HOURS), converted_outside_crm (a conversion the CRM "
        "will not record), wrong_person (the contact is not the buyer).")
    note: Note | None = Field(default=None, description="Free text, at most 1,000 characters.")
