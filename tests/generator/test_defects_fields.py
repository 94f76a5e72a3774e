"""The field, address, identity and security injectors (``pipelines.generator.defects_fields``):
every order they damage fails exactly its own entry-accuracy rule, the orders they leave alone
are byte for byte what the clean generator writes, and the clean merchant fails none of these
rules.

The rules are re-implemented here from the working spec with the libraries it names
(email_validator, phonenumbers, pycountry, the card redaction of ``orderlens.security``);
files are read back with ``csv`` (``read_landing``), never with the generator's code.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import cast

import phonenumbers
import polars as pl
import pycountry
import pytest
from email_validator import EmailNotValidError, validate_email
from stdnum import luhn

from orderlens.contracts import GENERIC_ORDER_FIELDS
from orderlens.security import contains_card_number
from pipelines.generator import (
    INJECTORS,
    GroundTruthRow,
    InjectorSpec,
    ReasonCode,
    generate_merchant,
    read_ground_truth,
)
from pipelines.generator.chunk import Chunk
from pipelines.generator.defects_fields import FIELD_DEFECTS, MAX_RATE, luhn_complete
from tests.generator.test_generator import Landing, Record, read_landing

ORDER_FIELDS = [f.name for f in GENERIC_ORDER_FIELDS]
RATE = 0.04
RUN = {"orders": 5_000, "start": date(2026, 2, 1), "end": date(2026, 3, 31), "seed": 21}
CODE = {name: INJECTORS[name].reason_codes[0] for name in FIELD_DEFECTS}

# Postcode patterns (libaddressinput's): the clean generator must match them.
STRICT_POSTCODE = {
    "US": r"\d{5}(?:[ \-]\d{4})?",
    "CA": r"[ABCEGHJKLMNPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d",
    "GB": r"GIR ?0AA|(?:(?:AB|AL|B|BA|BB|BD|BF|BH|BL|BN|BR|BS|BT|BX|CA|CB|CF|CH|CM|CO|CR|CT|CV|"
    r"CW|DA|DD|DE|DG|DH|DL|DN|DT|DY|E|EC|EH|EN|EX|FK|FY|G|GL|GY|GU|HA|HD|HG|HP|HS|HU|HX|IG|IM|"
    r"IP|IV|JE|KA|KT|KW|KY|L|LA|LD|LE|LL|LN|LS|LU|M|ME|MK|ML|N|NE|NG|NN|NP|NR|NW|OL|OX|PA|PE|"
    r"PH|PL|PO|PR|RG|RH|RM|S|SA|SE|SG|SK|SL|SM|SN|SO|SP|SR|SS|ST|SW|SY|TA|TD|TF|TN|TQ|TR|TS|"
    r"TW|UB|W|WA|WC|WD|WF|WN|WR|WS|WV|YO|ZE)\d[\dA-Z]? ?\d[ABD-HJLN-UW-Z]{2})|BFPO ?\d{1,4}",
    "DE": r"\d{5}",
    "FR": r"\d{2} ?\d{3}",
    "NL": r"[1-9]\d{3} ?(?:[A-RT-Z][A-Z]|S[BCE-RT-Z])",
    "JP": r"\d{3}-?\d{4}",
}
# Looser patterns a validator might use instead: a damaged postcode must fail these too.
LOOSE_POSTCODE = {
    "US": r"\d{5}(?:-?\d{4})?",
    "CA": r"[A-Z]\d[A-Z] ?\d[A-Z]\d",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
    "DE": r"\d{5}",
    "FR": r"\d{2} ?\d{3}",
    "NL": r"\d{4} ?[A-Z]{2}",
    "JP": r"\d{3}-?\d{4}",
}
FREE_TEXT = ("note", "billing_name", "billing_address1", "billing_address2", "shipping_name",
             "shipping_address1", "shipping_address2", "customer_first_name",
             "customer_last_name")  # fmt: skip


# --------------------------------------------------------------------------------------------
# The rules of the spec, for the codes of these injectors


@dataclass
class Order:
    source: str
    order_id: str
    fields: dict[str, str]
    """Order fields of the order's first line ('' for blank)."""
    ships: bool
    """Some line requires shipping and the order is not a till sale."""
    text: list[str]
    """Free text of the order and its lines (notes, names, addresses, product names)."""

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()


def orders_of(landing: Landing) -> list[Order]:
    lines: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in landing.records():
        lines[(record.file, record.get("source_order_id"))].append(record)
    out = []
    for (file, order_id), records in lines.items():
        first = next(r for r in records if r.get("line_number") == "1")
        fields = {name: first.get(name) for name in ORDER_FIELDS}
        ships = fields["channel"] != "pos" and any(
            r.get("requires_shipping") == "true" for r in records
        )
        text = [fields[n] for n in FREE_TEXT] + [r.get("product_name") for r in records]
        out.append(Order(file.split("/")[0], order_id, fields, ships, text))
    return out


@cache
def country(value: str) -> str | None:
    """ISO alpha-2 of a country code or English name (pycountry), None if not a country."""
    if not value.strip():
        return None
    try:
        return pycountry.countries.lookup(value.strip().upper()).alpha_2
    except LookupError:
        return None


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(plain.lower().split())


@cache
def subdivision_names(alpha_2: str) -> frozenset[str]:
    """Codes (with and without the ``CC-`` prefix) and folded names of a country's
    subdivisions (a bracketed alternative name counts too); empty: none known."""
    names: set[str] = set()
    for sub in pycountry.subdivisions.get(country_code=alpha_2) or ():
        names |= {_fold(sub.code), _fold(sub.code.split("-", 1)[1])}
        names |= {_fold(part) for part in re.split(r"\s*[\[\]]\s*", sub.name) if part}
    return frozenset(names)


def email_valid(value: str) -> bool:
    try:
        validate_email(value.strip().lower(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def phone_valid(value: str, regions: list[str]) -> bool:
    for region in regions or [None]:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            pass
    return False


def postcode_valid(value: str, alpha_2: str, patterns: dict[str, str]) -> bool:
    text = value.strip()
    text = (text[1:] if text.startswith("'") else text).upper()
    return re.fullmatch(patterns[alpha_2], text) is not None


def findings(orders: list[Order]) -> set[tuple[str, str, str]]:
    """(source, order id, code) of every failed rule of the codes these injectors inject."""
    found: set[tuple[str, str, str]] = set()

    def fail(o: Order, code: ReasonCode) -> None:
        found.add((o.source, o.order_id, str(code)))

    for o in orders:
        email = o.get("customer_email")
        if email and not email_valid(email):
            fail(o, ReasonCode.EMAIL_INVALID)
        if (
            not email
            and o.get("channel") in ("online_store", "mobile_app")
            and o.get("customer_id")
        ):
            fail(o, ReasonCode.EMAIL_MISSING)
        countries = {kind: country(o.get(f"{kind}_country")) for kind in ("billing", "shipping")}
        regions = sorted({c for c in countries.values() if c})
        phone = o.get("customer_phone")
        if phone and (regions or phone.startswith("+")) and not phone_valid(phone, regions):
            fail(o, ReasonCode.PHONE_INVALID)
        for kind, alpha_2 in countries.items():
            if o.get(f"{kind}_country") and alpha_2 is None:
                fail(o, ReasonCode.COUNTRY_INVALID)
            province = o.get(f"{kind}_province")
            known = subdivision_names(alpha_2) if alpha_2 else frozenset()
            if province and known and _fold(province) not in known:
                fail(o, ReasonCode.SUBDIVISION_INVALID)
            postcode = o.get(f"{kind}_zip")
            if postcode and alpha_2 and not postcode_valid(postcode, alpha_2, STRICT_POSTCODE):
                fail(o, ReasonCode.POSTAL_CODE_INVALID)
        if o.ships and not all(
            o.get(f"shipping_{part}") for part in ("address1", "city", "zip", "country")
        ):
            fail(o, ReasonCode.SHIPPING_ADDRESS_INCOMPLETE)
        if countries["billing"] and countries["shipping"] and len(regions) == 2:
            fail(o, ReasonCode.COUNTRY_MISMATCH)
        if any(contains_card_number(text) for text in o.text if text):
            fail(o, ReasonCode.CARD_NUMBER_IN_TEXT)

    # One customer of one source with several e-mails: the orders not under the usual one.
    by_customer: dict[tuple[str, str], list[Order]] = defaultdict(list)
    for o in orders:
        if o.get("customer_id") and o.get("customer_email"):
            by_customer[(o.source, o.get("customer_id"))].append(o)
    for group in by_customer.values():
        emails = Counter(o.get("customer_email").lower() for o in group)
        if len(emails) < 2:
            continue
        earliest = min(group, key=lambda o: datetime.fromisoformat(o.get("created_at")))
        top = max(emails.values())
        usual = earliest.get("customer_email").lower()
        if emails[usual] < top:
            usual = next(e for e, n in emails.items() if n == top)
        for o in group:
            if o.get("customer_email").lower() != usual:
                fail(o, ReasonCode.CUSTOMER_INCONSISTENT)
    return found


# --------------------------------------------------------------------------------------------
# Fixtures


@dataclass
class Run:
    landing: Landing
    orders: list[Order]
    truth: list[GroundTruthRow]


def _run(root: Path, injectors: list[InjectorSpec]) -> Run:
    out = root / "landing"
    report = generate_merchant(out, injectors=injectors, **RUN)  # type: ignore[arg-type]
    landing = read_landing(out)
    return Run(landing, orders_of(landing), read_ground_truth(report.ground_truth))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("clean"), [])


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same merchant with every injector of the module at a high rate."""
    specs = [InjectorSpec(name, RATE) for name in FIELD_DEFECTS]
    return _run(tmp_path_factory.mktemp("dirty"), specs)


# --------------------------------------------------------------------------------------------
# The clean merchant


def test_the_clean_merchant_breaks_none_of_these_rules(clean: Run) -> None:
    orders = clean.orders
    assert clean.truth == [] and len(orders) == RUN["orders"]
    assert findings(orders) == set()
    # The same, spelt out (and the data really has what the rules look at).
    emails = [o.get("customer_email") for o in orders if o.get("customer_email")]
    assert len(emails) > 3_000 and all(email_valid(e) for e in emails)
    phones = [o for o in orders if o.get("customer_phone")]
    assert len(phones) > 4_000
    for o in phones:
        regions = [c for k in ("billing", "shipping") if (c := country(o.get(f"{k}_country")))]
        assert regions and phone_valid(o.get("customer_phone"), regions), o.fields
    addressed = [o for o in orders if o.get("billing_country")]
    assert {o.get("billing_country") for o in addressed} == set(STRICT_POSTCODE)
    for o in addressed:
        assert country(o.get("billing_country")) == o.get("billing_country")
        assert o.get("shipping_country") in ("", o.get("billing_country"))
    shipped = [o for o in orders if o.ships]
    assert len(shipped) > 3_000
    assert all(o.get(f"shipping_{p}") for o in shipped for p in ("address1", "city", "zip"))
    provinces = Counter(o.get("billing_country") for o in addressed if o.get("billing_province"))
    assert set(provinces) == {"US", "CA", "DE", "FR", "NL", "JP"}  # none in Great Britain
    per_customer: dict[tuple[str, str], set[str]] = defaultdict(set)
    for o in orders:
        if o.get("customer_id") and o.get("customer_email"):
            per_customer[(o.source, o.get("customer_id"))].add(o.get("customer_email").lower())
    assert all(len(e) == 1 for e in per_customer.values())
    assert any(o.get("note") for o in orders)
    assert not any(re.search(r"\d(?:[ -]?\d){12}", o.get("note")) for o in orders)


# --------------------------------------------------------------------------------------------
# The injected defects


def _truth_orders(run: Run) -> dict[tuple[str, str], set[str]]:
    """Injectors that marked each (source, order id)."""
    marked: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in run.truth:
        assert row.source_order_id is not None
        marked[(row.source, row.source_order_id)].add(row.injector)
    return marked


def test_each_damaged_order_fails_its_own_rule_and_no_other(dirty: Run) -> None:
    marked = _truth_orders(dirty)
    per_injector = Counter(name for names in marked.values() for name in names)
    assert set(per_injector) == set(FIELD_DEFECTS)
    assert all(n >= 8 for n in per_injector.values()), per_injector
    assert all(len(names) == 1 for names in marked.values()), "orders are disjoint"
    expected = {
        (source, order_id, CODE[name])
        for (source, order_id), names in marked.items()
        for name in names
    }
    got = findings(dirty.orders)
    assert got - expected == set(), "a rule fails where nothing was injected"
    assert expected - got == set(), "an injected defect is not found"


def test_the_ground_truth_names_the_records_that_carry_the_damage(dirty: Run) -> None:
    by_line = {(r.file, r.line): r for r in dirty.landing.records()}
    lines_of: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in dirty.landing.records():
        lines_of[(r.file, r.get("source_order_id"))].append(r)
    marked: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in dirty.truth:
        assert row.reason_codes == (CODE[row.injector],)
        assert row.fraud_label is None and row.fraud_pattern is None
        record = by_line[(row.file, row.physical_line)]
        assert record.get("source_order_id") == row.source_order_id
        assert record.get("line_number") == str(row.line_number)
        marked[(row.file, record.get("source_order_id"))].add(row.physical_line)
    for (file, order_id), physical in marked.items():
        lines = lines_of[(file, order_id)]
        assert physical == {r.line for r in lines if r.get("line_number") == "1"}


def test_orders_left_alone_are_unchanged_and_damage_stays_in_its_columns(
    clean: Run, dirty: Run
) -> None:
    def records(run: Run) -> dict[tuple[str, str, str], dict[str, str]]:
        return {
            (r.file, r.get("source_order_id"), r.get("line_number")): r.fields
            for r in run.landing.records()
        }

    before, after = records(clean), records(dirty)
    assert before.keys() == after.keys()
    marked = _truth_orders(dirty)
    changed_orders = set()
    for key, fields in after.items():
        changed = {name for name, value in fields.items() if before[key][name] != value}
        if not changed:
            continue
        file, order_id, _line = key
        names = marked.get((file.split("/")[0], order_id))
        assert names, (key, changed)
        allowed = {column for name in names for column in INJECTORS[name].columns}  # type: ignore[attr-defined]
        assert changed <= allowed, (names, changed)
        changed_orders.add((file.split("/")[0], order_id))
    assert changed_orders == set(marked)


def test_the_damage_is_what_each_injector_says(clean: Run, dirty: Run) -> None:
    before = {(o.source, o.order_id): o for o in clean.orders}
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for (source, order_id), names in _truth_orders(dirty).items():
        (name,) = names
        old = before[(source, order_id)]
        new = next(o for o in dirty.orders if (o.source, o.order_id) == (source, order_id))
        if name == "invalid_postal_code":
            alpha_2 = new.get("shipping_country")
            assert not postcode_valid(new.get("shipping_zip"), alpha_2, LOOSE_POSTCODE)
            assert new.get("channel") != "pos"
        elif name == "invalid_country":
            assert new.get("billing_country") == new.get("shipping_country") or not new.ships
            phone = new.get("customer_phone")
            assert not phone or phone_valid(phone, [])  # written with its country code
        elif name == "country_mismatch":
            assert new.get("shipping_country") == old.get("shipping_country")
            assert all(new.get(f"billing_{p}") for p in ("address1", "city", "zip", "country"))
        elif name == "customer_inconsistent":
            assert email_valid(new.get("customer_email"))
            assert new.get("customer_email") != old.get("customer_email").lower()
        elif name == "card_in_note":
            assert old.get("note") == "" or new.get("note").startswith(old.get("note"))
        seen[name][new.get("channel")] += 1
    assert set(seen["missing_email"]) == {"online_store", "mobile_app"}
    assert "pos" in seen["invalid_phone"]


def test_damage_holds_for_every_clean_order_it_could_take(clean: Run) -> None:
    """Each stateless injector damages every order it finds eligible in the clean merchant:
    each damaged order fails its own rule and no other."""
    frame = pl.DataFrame(
        [{**o.fields, "_source": o.source} for o in clean.orders],
        schema={**dict.fromkeys(ORDER_FIELDS, pl.String), "_source": pl.String},
    ).with_columns(
        *(pl.when(pl.col(n) != "").then(pl.col(n)).alias(n) for n in ORDER_FIELDS),
        pl.lit(0, pl.Int64).alias("_created"),
        pl.int_range(pl.len()).alias("_position"),
        pl.lit(1, pl.Int64).alias("_orders"),  # an only order: see invalid_email
    )
    index = {(o.source, o.order_id): i for i, o in enumerate(clean.orders)}
    single = Counter((o.source, o.get("customer_id")) for o in clean.orders)
    stateless = ("invalid_email", "invalid_phone", "invalid_country", "invalid_subdivision",
                 "invalid_postal_code", "incomplete_shipping_address", "card_in_note")  # fmt: skip
    for name in stateless:
        injector = INJECTORS[name](MAX_RATE, 1, 0)
        view = frame.filter(pl.Series(injector.eligible(frame)))  # type: ignore[attr-defined]
        if name == "invalid_email":
            ids = zip(view["_source"], view["customer_id"], strict=True)
            view = view.filter(pl.Series([single[key] == 1 for key in ids]))
        assert view.height > 150, name
        changes = injector.damage(view, cast(Chunk, None))  # type: ignore[attr-defined]
        damaged = [
            Order(o.source, o.order_id, dict(o.fields), o.ships, list(o.text)) for o in clean.orders
        ]
        for row, position in enumerate(view["_position"]):
            for column, values in changes.items():
                damaged[position].fields[column] = values[row] or ""
            damaged[position].text = [damaged[position].fields[n] for n in FREE_TEXT]
        expected = {
            (o.source, o.order_id, CODE[name]) for o in (damaged[p] for p in view["_position"])
        }
        assert findings(damaged) == expected, name
        assert len(index) == len(damaged)


# --------------------------------------------------------------------------------------------
# Registration, rates, determinism


def test_the_injectors_are_registered_with_their_codes_and_small_default_rates() -> None:
    for name in FIELD_DEFECTS:
        cls = INJECTORS[name]
        assert cls.__module__ == "pipelines.generator.defects_fields"
        assert len(cls.reason_codes) == 1 and cls.reason_codes[0] in set(ReasonCode)
        assert 0 < cls.default_rate <= 0.001
        assert cls.__doc__ and "Rate:" in cls.__doc__
    assert len({INJECTORS[n].reason_codes[0] for n in FIELD_DEFECTS}) == len(FIELD_DEFECTS)
    with pytest.raises(ValueError, match="above"):
        INJECTORS["invalid_email"](MAX_RATE * 1.5, 1, 0)


def test_card_numbers_pass_luhn() -> None:
    for body in ("453914880343646", "411111111111111", "601100000000000", "5", "0"):
        assert luhn.is_valid(luhn_complete(body))
        assert luhn_complete(body)[-1] == luhn.calc_check_digit(body)


def test_the_same_seed_gives_the_same_damage(tmp_path: Path) -> None:
    def run(name: str) -> tuple[bytes, ...]:
        out = tmp_path / name / "landing"
        generate_merchant(
            out, orders=600, start=date(2026, 5, 1), end=date(2026, 5, 31), seed=9,
            injectors=[InjectorSpec(n, MAX_RATE) for n in FIELD_DEFECTS],
        )  # fmt: skip
        files = sorted(out.rglob("*.csv"))
        return (*(p.read_bytes() for p in files), (out.parent / "landing_ground_truth.parquet")
                .read_bytes())  # fmt: skip

    assert run("a") == run("b")
