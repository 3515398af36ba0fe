"""Title normalisation: a table of real-world spellings -> (seniority, department)."""

from __future__ import annotations

import pytest

from schemas import normalise_title

TITLES: list[tuple[str, str, str]] = [
    # the three spellings the issue calls out must agree
    ("VP of Engineering", "vp", "engineering"),
    ("Vice President, Technology", "vp", "engineering"),
    ("Head of Engineering", "director", "engineering"),
    # C-level
    ("CEO", "c_level", "other"),
    ("Chief Executive Officer", "c_level", "other"),
    ("Co-Founder & CEO", "c_level", "other"),
    ("Founder", "c_level", "other"),
    ("President", "c_level", "other"),
    ("CTO", "c_level", "engineering"),
    ("Chief Technology Officer", "c_level", "engineering"),
    ("Chief Technical Officer", "c_level", "engineering"),
    ("CIO", "c_level", "it"),
    ("Chief Information Officer", "c_level", "it"),
    ("CISO", "c_level", "it"),
    ("Chief Information Security Officer", "c_level", "it"),
    ("CMO", "c_level", "marketing"),
    ("Chief Marketing Officer", "c_level", "marketing"),
    ("CRO", "c_level", "sales"),
    ("Chief Revenue Officer", "c_level", "sales"),
    ("CFO", "c_level", "finance"),
    ("Chief Financial Officer", "c_level", "finance"),
    ("COO", "c_level", "operations"),
    ("Chief Operating Officer", "c_level", "operations"),
    ("CPO", "c_level", "product"),
    ("Chief Product Officer", "c_level", "product"),
    ("CHRO", "c_level", "hr"),
    ("Chief People Officer", "c_level", "hr"),
    ("Chief Human Resources Officer", "c_level", "hr"),
    # VP
    ("VP Engineering", "vp", "engineering"),
    ("VP, Eng.", "vp", "engineering"),
    ("V.P. Engineering", "vp", "engineering"),
    ("Vice-President of Software Development", "vp", "engineering"),
    ("SVP Sales", "vp", "sales"),
    ("Senior Vice President, Sales", "vp", "sales"),
    ("EVP Marketing", "vp", "marketing"),
    ("VP Marketing", "vp", "marketing"),
    ("VP of Finance", "vp", "finance"),
    ("VP Operations", "vp", "operations"),
    ("VP Ops", "vp", "operations"),
    ("VP Product", "vp", "product"),
    ("VP of People", "vp", "hr"),
    ("VP IT", "vp", "it"),
    ("VP Information Technology", "vp", "it"),
    # Head / Director
    ("Head of Technology", "director", "engineering"),
    ("Head of IT", "director", "it"),
    ("Head of Marketing", "director", "marketing"),
    ("Head of Growth", "director", "marketing"),
    ("Head of Sales", "director", "sales"),
    ("Head of People", "director", "hr"),
    ("Head of Product", "director", "product"),
    ("Director of Engineering", "director", "engineering"),
    ("Engineering Director", "director", "engineering"),
    ("Dir. of Marketing", "director", "marketing"),
    ("Director, FP&A", "director", "finance"),
    ("Finance Director", "director", "finance"),
    ("Director of Operations", "director", "operations"),
    ("Director of IT Infrastructure", "director", "it"),
    ("Sales Director EMEA", "director", "sales"),
    ("HR Director", "director", "hr"),
    ("Director of Product Management", "director", "product"),
    # Manager
    ("Engineering Manager", "manager", "engineering"),
    ("Eng Mgr", "manager", "engineering"),
    ("Software Engineering Manager", "manager", "engineering"),
    ("IT Manager", "manager", "it"),
    ("Marketing Manager", "manager", "marketing"),
    ("Sr. Marketing Manager", "manager", "marketing"),
    ("Product Marketing Manager", "manager", "marketing"),
    ("Sales Manager", "manager", "sales"),
    ("Account Manager", "manager", "sales"),
    ("Finance Manager", "manager", "finance"),
    ("Financial Controller", "manager", "finance"),
    ("Operations Manager", "manager", "operations"),
    ("Product Manager", "manager", "product"),
    ("Senior PM", "manager", "product"),
    ("HR Manager", "manager", "hr"),
    ("Talent Acquisition Manager", "manager", "hr"),
    ("Tech Lead", "manager", "engineering"),
    # IC
    ("Software Engineer", "ic", "engineering"),
    ("Sr. Software Engineer", "ic", "engineering"),
    ("Senior Backend Developer", "ic", "engineering"),
    ("SWE II", "ic", "engineering"),
    ("DevOps Engineer", "ic", "engineering"),
    ("SRE", "ic", "engineering"),
    ("Staff Engineer", "ic", "engineering"),
    ("Systems Administrator", "ic", "it"),
    ("IT Support Specialist", "ic", "it"),
    ("Security Analyst", "ic", "it"),
    ("Network Engineer", "ic", "it"),
    ("Marketing Specialist", "ic", "marketing"),
    ("Content Marketer", "ic", "marketing"),
    ("SEO Specialist", "ic", "marketing"),
    ("Account Executive", "ic", "sales"),
    ("Sales Development Representative", "ic", "sales"),
    ("SDR", "ic", "sales"),
    ("Business Development Representative", "ic", "sales"),
    ("Accountant", "ic", "finance"),
    ("Financial Analyst", "ic", "finance"),
    ("Operations Analyst", "ic", "operations"),
    ("Logistics Coordinator", "ic", "operations"),
    ("Product Owner", "ic", "product"),
    ("Product Designer", "ic", "product"),
    ("Recruiter", "ic", "hr"),
    ("HR Generalist", "ic", "hr"),
    ("HR Business Partner", "ic", "hr"),
    # order-sensitive cases: the specific rule must beat the general one
    ("Assistant to the CEO", "ic", "other"),
    ("Executive Assistant to the CFO", "ic", "other"),
    ("Head of Product Marketing", "director", "marketing"),
    ("Assistant Vice President, IT", "vp", "it"),
    ("Senior Vice President of Engineering", "vp", "engineering"),
    ("Business Owner", "c_level", "other"),
    # casing, whitespace, unknowns
    ("  vp   OF   engineering  ", "vp", "engineering"),
    ("HEAD OF ENGINEERING", "director", "engineering"),
    ("", "unknown", "other"),
    ("   ", "unknown", "other"),
    ("Wizard", "unknown", "other"),
    ("Consultant", "ic", "other"),
]


@pytest.mark.parametrize(("title", "seniority", "department"), TITLES,
                         ids=[t or "<empty>" for t, _, _ in TITLES])
def test_normalise_title(title: str, seniority: str, department: str) -> None:
    assert normalise_title(title) == (seniority, department)


def test_table_covers_every_level_and_department() -> None:
    assert {s for _, s, _ in TITLES} == {"c_level", "vp", "director", "manager", "ic", "unknown"}
    assert {d for _, _, d in TITLES} == {
        "engineering", "it", "marketing", "sales", "finance", "operations", "product", "hr",
        "other",
    }


def test_issue_examples_agree() -> None:
    a = normalise_title("VP of Engineering")
    b = normalise_title("Vice President, Technology")
    c = normalise_title("Head of Engineering")
    assert a == b
    assert a.department == c.department == "engineering"


def test_none_is_unknown() -> None:
    assert normalise_title(None) == ("unknown", "other")
