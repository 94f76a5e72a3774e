"""The entry-accuracy acceptance fixture as a landing folder, and its real published run.

Shared by the rules' acceptance test (``test_rules_fixture.py``) and the dashboard's Data
quality page tests: ``fixtures/orders.csv`` and ``fixtures/transactions.json`` become source
``fixture``, ``fixtures/_reference`` the merchant's reference data.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

from tests.conftest import make_settings, run_all

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = "fixture"


def fixture_rows() -> list[dict[str, str]]:
    """The rows of ``fixtures/orders.csv`` (one per order line)."""
    with open(FIXTURES / "orders.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def personal_values() -> set[str]:
    """E-mail addresses and phone numbers of the fixture, as typed and normalised."""
    values: set[str] = set()
    for row in fixture_rows():
        email = row["customer_email"].strip()
        if "@" in email and len(email) > 5:
            values |= {email, email.lower()}
        phone = row["customer_phone"].strip()
        digits = re.sub(r"\D", "", phone)
        if len(digits) >= 7:
            values |= {phone, digits}
    return values


def build_landing(landing: Path) -> Path:
    """Lay the fixture out as a landing folder at ``landing`` (created) and return it."""
    shutil.copytree(FIXTURES / "_reference", landing / "_reference")
    (landing / SOURCE).mkdir()
    for name in ("orders.csv", "transactions.json"):
        shutil.copy(FIXTURES / name, landing / SOURCE / name)
    return landing


def publish_fixture(root: Path):
    """Settings of a home under ``root`` whose snapshot the real pipeline published from the
    fixture landing (``root/landing``); the run must succeed."""
    settings = make_settings(root / "home", build_landing(root / "landing"))
    outcome = run_all(settings)
    # The quality step raises ContractMismatch when GX's verdict on any rule differs from
    # the findings its SQL wrote: a successful run means GX agreed on every rule.
    assert outcome.success, outcome.error
    return settings
