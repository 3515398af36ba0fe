"""Job-title normalisation: free-text titles -> (seniority, department).

Titles arrive in every spelling a human can type ("VP Eng", "Vice President, Technology",
"Head of Engineering", "CTO"). The model needs two small categorical features, so we map titles
to a closed vocabulary with ordered keyword tables: the first matching rule wins, which lets
specific rules ("vice president" before "president", "product marketing" before "product")
sit above general ones. Pure and deterministic; the table-driven test is the specification.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

Seniority = Literal["c_level", "vp", "director", "manager", "ic", "unknown"]
Department = Literal[
    "engineering", "it", "marketing", "sales", "finance", "operations", "product", "hr", "other"
]


class NormalisedTitle(NamedTuple):
    seniority: Seniority
    department: Department


# Expand abbreviations before matching so each rule needs only one spelling.
_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\bsr\b", "senior"),
    (r"\bjr\b", "junior"),
    (r"\bsvp\b", "senior vice president"),
    (r"\bevp\b", "executive vice president"),
    (r"\bavp\b", "assistant vice president"),
    (r"\bvp\b", "vice president"),
    (r"\bv p\b", "vice president"),
    (r"\bmgr\b", "manager"),
    (r"\bdir\b", "director"),
    (r"\beng\b", "engineering"),
    (r"\bengr\b", "engineer"),
    (r"\bdev\b", "developer"),
    (r"\bmktg\b", "marketing"),
    (r"\bmkt\b", "marketing"),
    (r"\bops\b", "operations"),
    (r"\bhr\b", "human resources"),
    (r"\bfin\b", "finance"),
    (r"\bmd\b", "managing director"),
    (r"\bpm\b", "product manager"),
    (r"\bswe\b", "software engineer"),
    (r"\bsde\b", "software engineer"),
    (r"\bsre\b", "site reliability engineer"),
    (r"\bit\b", "information technology"),
    (r"\bsdr\b", "sales development representative"),
    (r"\bbdr\b", "business development representative"),
    (r"\bae\b", "account executive"),
)

# Support roles that mention an executive ("Assistant to the CEO") are not executives.
_SUPPORT_ROLE = re.compile(r"\b(assistant to|executive assistant|office of the)\b")
_C_LEVEL_ACRONYM = re.compile(r"\bc[a-z]{1,3}o\b")  # CEO, CTO, CFO, CMO, CRO, CISO, CPO, COO ...

# (regex, seniority). Order matters: first match wins.
_SENIORITY_RULES: tuple[tuple[str, Seniority], ...] = (
    (r"\bvice president\b", "vp"),
    (r"\b(chief|founder|co founder|cofounder|(?<!product )owner|president|managing partner"
     r"|general partner)\b",
     "c_level"),
    (r"\b(head of|head|director|managing director|directeur|leiter)\b", "director"),
    (r"\b(manager|lead|team lead|supervisor|controller|gerente)\b", "manager"),
    (
        r"\b(engineer|developer|analyst|specialist|associate|consultant|coordinator|designer"
        r"|architect|administrator|scientist|representative|rep|executive|accountant|recruiter"
        r"|programmer|intern|assistant|officer|generalist|marketer|writer|strategist"
        r"|technician|agent|staff|principal|member|partner|owner)\b",
        "ic",
    ),
)

# Acronym C-levels imply a department; checked before the keyword table.
_C_LEVEL_DEPARTMENT: dict[str, Department] = {
    "cto": "engineering", "cio": "it", "ciso": "it", "cso": "it", "cdo": "it",
    "cmo": "marketing", "cro": "sales", "cco": "sales", "cfo": "finance", "coo": "operations",
    "cpo": "product", "chro": "hr", "cpeo": "hr", "ceo": "other",
}

_DEPARTMENT_RULES: tuple[tuple[str, Department], ...] = (
    (r"\bproduct marketing\b", "marketing"),
    (r"\b(sales|business) development\b", "sales"),
    (r"\b(human resources|people|talent|recruit\w*|hiring|personnel)\b", "hr"),
    (
        r"\b(information technology|infrastructure|security|systems|sysadmin|helpdesk|help desk"
        r"|network\w*|it ops|service desk|information|cyber\w*)\b",
        "it",
    ),
    (
        r"\b(engineering|engineer|technology|technical|tech|software|developer|development"
        r"|devops|platform|architect|programmer|data science|r and d|site reliability|qa"
        r"|quality assurance)\b",
        "engineering",
    ),
    (r"\b(marketing|marketer|growth|brand|demand generation|content|seo|communications)\b",
     "marketing"),
    (
        r"\b(sales|account executive|business development|revenue|account manager|bdr|sdr"
        r"|commercial|partnerships)\b",
        "sales",
    ),
    (
        r"\b(finance|financial|accounting|accountant|controller|treasury|fp and a|procurement"
        r"|payroll)\b",
        "finance",
    ),
    (r"\b(product|product manager|product owner)\b", "product"),
    (r"\b(operations|operating|logistics|supply chain|facilities|revops)\b", "operations"),
)

_COMPILED_SENIORITY = tuple((re.compile(p), s) for p, s in _SENIORITY_RULES)
_COMPILED_DEPARTMENT = tuple((re.compile(p), d) for p, d in _DEPARTMENT_RULES)
_COMPILED_ABBREVIATIONS = tuple((re.compile(p), r) for p, r in _ABBREVIATIONS)


def _clean(title: str) -> str:
    text = title.lower().replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text)  # punctuation: "Vice-President, Eng." -> words
    for pattern, replacement in _COMPILED_ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def normalise_title(title: str | None) -> NormalisedTitle:
    """Map a free-text job title to (seniority, department); unknown parts become
    "unknown" / "other" rather than failing, because a title is enrichment, not identity."""
    if not title or not title.strip():
        return NormalisedTitle("unknown", "other")
    text = _clean(title)

    seniority: Seniority = "unknown"
    department: Department | None = None
    acronym = _C_LEVEL_ACRONYM.search(text)
    if _SUPPORT_ROLE.search(text):
        seniority = "ic"
    elif acronym and acronym.group(0) in _C_LEVEL_DEPARTMENT:
        seniority = "c_level"
        department = _C_LEVEL_DEPARTMENT[acronym.group(0)]
    else:
        for pattern, level in _COMPILED_SENIORITY:
            if pattern.search(text):
                seniority = level
                break

    if department is None or department == "other":
        for dpattern, dept in _COMPILED_DEPARTMENT:
            if dpattern.search(text):
                department = dept
                break
    return NormalisedTitle(seniority, department or "other")
