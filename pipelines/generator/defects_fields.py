"""Injectors of field, address, identity and security defects: what people type wrong into an
order (a malformed e-mail, a phone that lost digits, a made-up country, a postcode of the wrong
shape, a card number in the delivery note).

Grain: one damaged order. Every injector here changes order fields of the orders it picks (in
the rendered text of a chunk; a source that repeats order fields shows the change on each line)
and marks the order's first line, where order fields are read from, with its reason code. The
earlier copy of an order that overlapping exports write keeps the change (``Chunk.snapshot``).
The damage makes exactly the injector's own entry-accuracy rule fail and no other:

* the injectors of this module take disjoint orders: every order of a chunk draws one number
  ``u`` in [0, 1) (seeded by the run's seed, the source and the chunk) and injector number
  ``k`` of :data:`FIELD_DEFECTS` only takes orders with ``k / 10 <= u < k / 10 + rate``
  (so a rate is at most 0.1; adding or dropping one of them changes no other's orders);
* no order with another order of the same customer less than an hour apart is taken (a
  re-submitted order stays a recognisable duplicate);
* each injector only takes orders where its defect is meaningful and alone (see each).

Rates: the share of eligible orders damaged (each injector says which are eligible).
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

import numpy as np
import polars as pl

from orderlens.reasons import ReasonCode
from pipelines.generator.chunk import Chunk
from pipelines.generator.injectors import (
    ChunkContext,
    Injector,
    PlanContext,
    RecordMark,
    near_another_order,
    register_injector,
)
from pipelines.generator.plan import Plan
from pipelines.generator.vectors import pick
from pipelines.generator.world import CHANNELS

FIELD_DEFECTS: tuple[str, ...] = (
    "invalid_email",
    "missing_email",
    "invalid_phone",
    "invalid_country",
    "invalid_subdivision",
    "invalid_postal_code",
    "incomplete_shipping_address",
    "country_mismatch",
    "customer_inconsistent",
    "card_in_note",
)
"""The injectors of this module, in the order of their slots. Registered on import, so
``default_injector_specs()`` (every registered injector) runs them at their small default rates;
pick them with ``InjectorSpec(name, rate)``. The committed demo sample runs no injector."""

MAX_RATE = 1.0 / len(FIELD_DEFECTS)
"""A rate of this module's injectors is at most this (their orders are disjoint)."""

_ONLINE = ("online_store", "mobile_app")
_SHIPPED_CHANNELS = ("online_store", "mobile_app", "marketplace")


class _FieldDefect(Injector, ABC):
    """Picks orders in its slot that it finds eligible and rewrites some of their fields."""

    columns: ClassVar[tuple[str, ...]]
    """Order fields the injector may change."""
    needs_customers: ClassVar[bool] = False
    """Whether :meth:`eligible` uses the orders per customer and source (from the plan)."""

    def __init__(self, rate: float, seed: int, index: int) -> None:
        if rate > MAX_RATE:
            raise ValueError(
                f"{self.name}: rate {rate} is above {MAX_RATE:g} (the field defects of "
                "pipelines.generator.defects_fields damage disjoint orders)"
            )
        super().__init__(rate, seed, index)
        self.seed = seed
        self.slot = FIELD_DEFECTS.index(self.name)
        self.customers: pl.DataFrame | None = None

    def add_orders(self, plan: Plan, context: PlanContext) -> Plan:
        """Adds nothing; notes how many orders each registered customer places per channel
        and when the first one was placed (an order of another chunk counts too)."""
        if self.needs_customers:
            self.customers = _customer_orders(plan)
        return plan

    @abstractmethod
    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        """Which orders of ``view`` (the chunk's candidate orders, with ``_created`` and,
        when :attr:`needs_customers`, ``_orders`` and ``_first``) may be damaged."""

    @abstractmethod
    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        """New values of the changed columns, one per order of ``view`` (all eligible)."""

    def alter_chunk(self, chunk: Chunk, context: ChunkContext) -> tuple[Chunk, list[RecordMark]]:
        if self.rate <= 0 or chunk.n_orders == 0:
            return chunk, []
        if chunk.created is None:
            raise ValueError(f"{self.name}: the chunk keeps no creation times")
        u = np.random.default_rng(
            [self.seed, 31, zlib.crc32(context.source.encode()), context.chunk_no]
        ).random(chunk.n_orders)
        low = self.slot * MAX_RATE
        candidates = np.flatnonzero((u >= low) & (u < low + self.rate))
        candidates = candidates[~near_another_order(chunk, candidates)]
        if not candidates.size:
            return chunk, []
        view = chunk.orders[candidates].with_columns(
            pl.Series("_created", chunk.created[candidates]),
            pl.Series("_position", candidates),
        )
        if self.needs_customers:
            view = self._with_customer_orders(view, chunk)
        view = view.filter(pl.Series(self.eligible(view)))
        if view.is_empty():
            return chunk, []
        changes = self.damage(view, chunk)
        positions = view["_position"].to_numpy()
        changed = np.zeros(view.height, dtype=bool)
        orders = chunk.orders
        for column, values in changes.items():
            if column not in self.columns:
                raise AssertionError(f"{self.name} changed {column}")
            new = pl.Series(column, values, dtype=pl.String)
            changed |= ~(new.eq_missing(view[column])).to_numpy()
            series = orders[column].clone()
            series.scatter(positions, new)
            orders = orders.with_columns(series)
        hit = np.zeros(chunk.n_orders, dtype=bool)
        hit[positions[changed]] = True
        return replace(chunk, orders=orders), [self.mark(_order_records(chunk, hit))]

    def _with_customer_orders(self, view: pl.DataFrame, chunk: Chunk) -> pl.DataFrame:
        customers = self.customers
        if customers is None:  # no plan was seen: count the chunk's orders
            customers = _customer_counts(
                chunk.orders["channel"], chunk.orders["customer_id"], pl.Series(chunk.created)
            )
        return (
            view.join(customers, on=["channel", "customer_id"], how="left")
            .with_columns(pl.col("_orders").fill_null(0))
            .sort("_position")
        )

    def choose(self, options: Sequence[str]) -> str:
        return options[int(self.rng.integers(0, len(options)))]


def _customer_counts(channel: pl.Series, customer: pl.Series, created: pl.Series) -> pl.DataFrame:
    return (
        pl.DataFrame({"channel": channel, "customer_id": customer, "_t": created})
        .filter(pl.col("customer_id").is_not_null())
        .group_by("channel", "customer_id")
        .agg(pl.len().cast(pl.Int64).alias("_orders"), pl.col("_t").min().alias("_first"))
    )


def _customer_orders(plan: Plan) -> pl.DataFrame:
    """Orders and first order time per (channel, customer id) of the plan's registered
    customers."""
    known = np.flatnonzero(plan.customer >= 0)
    ids = plan.customers["customer_id"].gather(plan.customer[known])
    return _customer_counts(
        pick(CHANNELS, plan.channel[known].astype(np.int64)), ids, pl.Series(plan.created[known])
    )


def _order_records(chunk: Chunk, hit: np.ndarray) -> np.ndarray:
    """The first lines of the orders ``hit`` (where order fields are read from)."""
    return np.flatnonzero(hit[chunk.order_of_line] & chunk.first_line)


def _text(view: pl.DataFrame, column: str) -> list[str | None]:
    return view[column].to_list()


def _present(view: pl.DataFrame, column: str) -> pl.Series:
    return view[column].is_not_null() & (view[column].str.strip_chars() != "")


# --------------------------------------------------------------------------------------------
# Fields


@register_injector
class InvalidEmail(_FieldDefect):
    """A malformed e-mail address: the @ missing or doubled, a space inside, no top-level
    domain, a trailing or doubled dot.

    Eligible: orders with an e-mail of a registered customer whose only order in the source
    it is (a second address of the same customer would also be an inconsistency).
    Rate: share of those orders damaged.
    """

    name = "invalid_email"
    description = "a malformed e-mail address (no @, two @, a space, no TLD, a stray dot)"
    reason_codes = (ReasonCode.EMAIL_INVALID,)
    default_rate = 0.0003
    columns = ("customer_email",)
    needs_customers = True

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        single = (view["_orders"] == 1) & _present(view, "customer_id")
        return (single & _present(view, "customer_email")).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        out: list[str | None] = []
        for email in _text(view, "customer_email"):
            local, _, domain = (email or "").strip().rpartition("@")
            kind = int(self.rng.integers(0, 6))
            if kind == 0:
                bad = local + domain  # the @ forgotten
            elif kind == 1:
                bad = f"{local}@@{domain}"
            elif kind == 2:  # a space for the dot, or in the middle
                half = max(1, len(local) // 2)
                spaced = (
                    local.replace(".", " ", 1) if "." in local else f"{local[:half]} {local[half:]}"
                )
                bad = f"{spaced}@{domain}"
            elif kind == 3:
                bad = f"{local}@{domain.split('.')[0]}"  # no top-level domain
            elif kind == 4:
                bad = f"{local}@{domain}."
            else:
                bad = f"{local}@{domain.replace('.', '..', 1)}"
            out.append(bad)
        return {"customer_email": out}


@register_injector
class MissingEmail(_FieldDefect):
    """A registered customer's web or app order without its e-mail address.

    Eligible: online store and mobile app orders of a registered customer whose only order
    in the source it is. Rate: share of those orders whose e-mail is blanked.
    """

    name = "missing_email"
    description = "a registered customer's online order without e-mail"
    reason_codes = (ReasonCode.EMAIL_MISSING,)
    default_rate = 0.0003
    columns = ("customer_email",)
    needs_customers = True

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        return (
            view["channel"].is_in(_ONLINE)
            & (view["_orders"] == 1)
            & _present(view, "customer_id")
            & _present(view, "customer_email")
        ).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        return {"customer_email": [None] * view.height}


_LOOK_ALIKE = {"0": "O", "1": "I", "2": "Z", "3": "E", "4": "A", "5": "S", "6": "G",
               "7": "T", "8": "B", "9": "Q"}  # fmt: skip


@register_injector
class InvalidPhone(_FieldDefect):
    """A phone number that no address country can have: four digits lost, a letter typed
    for a digit (``212-555-O123``), or the number as a spreadsheet's float that dropped its
    last digits (``4.47911E+11``). The shipping phone, when it is the same number, too.

    Eligible: orders with a phone. Rate: share of those orders damaged.
    """

    name = "invalid_phone"
    description = "a phone with too few digits, a letter, or in scientific notation"
    reason_codes = (ReasonCode.PHONE_INVALID,)
    default_rate = 0.0003
    columns = ("customer_phone", "shipping_phone")

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        digits = view["customer_phone"].str.count_matches(r"[0-9]").fill_null(0)
        return (_present(view, "customer_phone") & (digits >= 8)).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        phones: list[str | None] = []
        for phone in _text(view, "customer_phone"):
            text = phone or ""
            digit_at = [i for i, ch in enumerate(text) if ch.isdigit()]
            kind = int(self.rng.integers(0, 3))
            if kind == 0:  # the last four digits lost
                bad = text[: digit_at[-4]].rstrip(" -()/.")
            elif kind == 1:  # a letter for a digit, halfway through
                at = digit_at[len(digit_at) // 2]
                bad = text[:at] + _LOOK_ALIKE[text[at]] + text[at + 1 :]
            else:  # through a spreadsheet: six significant digits left
                bad = f"{int(''.join(text[i] for i in digit_at)):.5E}"
            phones.append(bad)
        shipping = [
            new if old is not None and old == phone else old
            for new, old, phone in zip(
                phones, _text(view, "shipping_phone"), _text(view, "customer_phone"), strict=True
            )
        ]
        return {"customer_phone": phones, "shipping_phone": shipping}


_COUNTRY_TYPOS = {"US": "Untied States", "CA": "Cananda", "GB": "Untied Kingdom",
                  "DE": "Germny", "FR": "Frnace", "NL": "Netherlnds", "JP": "Japna"}  # fmt: skip
NOT_COUNTRIES: tuple[str, ...] = ("XX", "ZZ", "Atlantis", *_COUNTRY_TYPOS.values())
"""What :class:`InvalidCountry` writes: no ISO 3166 code or country name."""


@register_injector
class InvalidCountry(_FieldDefect):
    """A country that does not exist ('XX', 'ZZ', 'Atlantis') or is misspelt ('Germny'), in
    the billing and the shipping address alike (so they still agree).

    Eligible: web, app and marketplace orders with an address whose phone is blank or written
    with its country code (+...), which is checked without a country. Rate: share of those.
    """

    name = "invalid_country"
    description = "billing and shipping country not a country (XX, Atlantis, Germny)"
    reason_codes = (ReasonCode.COUNTRY_INVALID,)
    default_rate = 0.0003
    columns = ("billing_country", "shipping_country")

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        phone = view["customer_phone"].str.strip_chars()
        international = phone.is_null() | (phone == "") | phone.str.starts_with("+")
        return (
            (view["channel"] != "pos") & _present(view, "billing_country") & international
        ).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        billing: list[str | None] = []
        shipping: list[str | None] = []
        for country, ship in zip(
            _text(view, "billing_country"), _text(view, "shipping_country"), strict=True
        ):
            typo = _COUNTRY_TYPOS.get((country or "").strip().upper())
            bad = self.choose(("XX", "ZZ", "Atlantis", *([typo] * 3 if typo else ())))
            billing.append(bad)
            shipping.append(None if ship is None else bad)
        return {"billing_country": billing, "shipping_country": shipping}


FOREIGN_PROVINCES: dict[str, tuple[str, ...]] = {
    "US": ("ON", "BC", "Bavaria", "Ontario", "New South Wales"),
    "CA": ("NY", "TX", "Texas", "Bavaria", "Queensland"),
    "DE": ("NY", "ON", "Ontario", "Tirol", "Texas"),
    "FR": ("NY", "ON", "Bavaria", "Ontario", "Texas"),
    "NL": ("NY", "ON", "Bavaria", "Ontario", "Texas"),
    "JP": ("NY", "ON", "Bavaria", "Ontario", "Texas"),
}
"""Per country: provinces of other countries (none is a code or name of one of its own)."""


@register_injector
class InvalidSubdivision(_FieldDefect):
    """A province of another country ('ON' or 'Bavaria' on a US address), in the billing and
    (when there is one) the shipping address.

    Eligible: web, app and marketplace orders with a billing province in a country whose
    provinces are checked (US, CA, DE, FR, NL, JP). Rate: share of those orders damaged.
    """

    name = "invalid_subdivision"
    description = "a province that is not in the address country ('ON' on a US order)"
    reason_codes = (ReasonCode.SUBDIVISION_INVALID,)
    default_rate = 0.0003
    columns = ("billing_province", "shipping_province")

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        return (
            (view["channel"] != "pos")
            & view["billing_country"].is_in(list(FOREIGN_PROVINCES))
            & _present(view, "billing_province")
        ).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        billing: list[str | None] = []
        shipping: list[str | None] = []
        for country, ship in zip(
            _text(view, "billing_country"), _text(view, "shipping_province"), strict=True
        ):
            bad = self.choose(FOREIGN_PROVINCES[country or ""])
            billing.append(bad)
            shipping.append(None if ship is None else bad)
        return {"billing_province": billing, "shipping_province": shipping}


@register_injector
class InvalidPostalCode(_FieldDefect):
    """A postcode of the wrong shape for its country: a character lost ('9021', 'K1A 0B'),
    one doubled ('902100'), or a US ZIP code that lost its leading zero through a spreadsheet
    ('7653'). On the shipping address, and on the billing address when it is the same.

    Eligible: web, app and marketplace orders that ship. Rate: share of those orders damaged.
    """

    name = "invalid_postal_code"
    description = "a postcode of the wrong shape for the country ('9021', 'K1A 0B', '902100')"
    reason_codes = (ReasonCode.POSTAL_CODE_INVALID,)
    default_rate = 0.0003
    columns = ("billing_zip", "shipping_zip")

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        return (
            view["channel"].is_in(_SHIPPED_CHANNELS)
            & _present(view, "shipping_zip")
            & _present(view, "shipping_country")
        ).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        shipping: list[str | None] = []
        for country, zip_code in zip(
            _text(view, "shipping_country"), _text(view, "shipping_zip"), strict=True
        ):
            text = (zip_code or "").strip()
            kind = int(self.rng.integers(0, 2))
            if country == "US" and text.startswith("0"):
                bad = text.lstrip("0")  # read as a number
            elif kind == 0:
                bad = text[:-1].rstrip()
            else:
                bad = text + text[-1]
            shipping.append(bad)
        billing = [
            new if old is not None and old == ship else old
            for new, old, ship in zip(
                shipping, _text(view, "billing_zip"), _text(view, "shipping_zip"), strict=True
            )
        ]
        return {"billing_zip": billing, "shipping_zip": shipping}


# --------------------------------------------------------------------------------------------
# Addresses


@register_injector
class IncompleteShippingAddress(_FieldDefect):
    """An order that ships without its street (address line 1), its city, or both.

    Eligible: web, app and marketplace orders that ship. Rate: share of those orders damaged.
    """

    name = "incomplete_shipping_address"
    description = "an order that ships without street or city"
    reason_codes = (ReasonCode.SHIPPING_ADDRESS_INCOMPLETE,)
    default_rate = 0.0003
    columns = ("shipping_address1", "shipping_city")

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        return (
            (view["channel"] != "pos")
            & _present(view, "shipping_address1")
            & _present(view, "shipping_city")
            & _present(view, "shipping_country")
        ).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        street: list[str | None] = []
        city: list[str | None] = []
        for old_street, old_city in zip(
            _text(view, "shipping_address1"), _text(view, "shipping_city"), strict=True
        ):
            kind = self.rng.choice(3, p=[0.5, 0.3, 0.2])  # street, city, both
            street.append(None if kind in (0, 2) else old_street)
            city.append(None if kind in (1, 2) else old_city)
        return {"shipping_address1": street, "shipping_city": city}


_BILLING_ADDRESS = ("address1", "address2", "city", "province", "zip", "country")


@register_injector
class CountryMismatch(_FieldDefect):
    """A billing address in another country than the shipping address: the whole billing
    address (street, city, province, postcode, country) is another customer's, valid for its
    own country, so that only the countries disagree (the phone stays valid for the shipping
    country).

    Eligible: web, app and marketplace orders that ship. Rate: share of those orders damaged.
    """

    name = "country_mismatch"
    description = "billing address in another country than the shipping address"
    reason_codes = (ReasonCode.COUNTRY_MISMATCH,)
    default_rate = 0.0003
    columns = tuple(f"billing_{c}" for c in _BILLING_ADDRESS)

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        return (
            (view["channel"] != "pos")
            & _present(view, "billing_country")
            & (view["billing_country"] == view["shipping_country"]).fill_null(False)
        ).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        if chunk.pre is None:
            raise ValueError(f"{self.name}: the chunk keeps no customers")
        # Donors: the (clean) addresses of the chunk's customers, before rendering.
        donors = chunk.pre.select(*(f"c_{c}" for c in _BILLING_ADDRESS))
        donor_country = donors["c_country"].to_numpy()
        out: dict[str, list[str | None]] = {f"billing_{c}": [] for c in _BILLING_ADDRESS}
        for country in _text(view, "shipping_country"):
            abroad = np.flatnonzero(donor_country != country)
            donor = donors.row(int(abroad[self.rng.integers(0, abroad.size)]), named=True)
            for c in _BILLING_ADDRESS:
                out[f"billing_{c}"].append(donor[f"c_{c}"])
        return out


# --------------------------------------------------------------------------------------------
# Identity


@register_injector
class CustomerInconsistent(_FieldDefect):
    """A registered customer's later order with another, valid e-mail address (the same
    domain, another local part: ``jane.doe@...`` becomes ``jane.doe57@...``).

    Eligible: orders with an e-mail of a registered customer who places several orders in
    the source, except the customer's first there (so the changed address is never the
    customer's usual one). Rate: share of those orders damaged.
    """

    name = "customer_inconsistent"
    description = "one of a customer's orders under another e-mail address"
    reason_codes = (ReasonCode.CUSTOMER_INCONSISTENT,)
    default_rate = 0.0003
    columns = ("customer_email",)
    needs_customers = True

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        later = (view["_orders"] >= 2) & (view["_created"] > view["_first"]).fill_null(False)
        return (later & _present(view, "customer_email") & _present(view, "customer_id")).to_numpy()

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        out: list[str | None] = []
        for email in _text(view, "customer_email"):
            local, _, domain = (email or "").strip().lower().rpartition("@")
            out.append(f"{local}{int(self.rng.integers(2, 100))}@{domain}")
        return {"customer_email": out}


# --------------------------------------------------------------------------------------------
# Security

_CARD_PREFIXES = ("4", "4", "4", "51", "52", "53", "54", "55", "6011")  # visa most often
_CARD_NOTES = (
    "pls charge my card {card} thx",
    "Please use my card {card} for the balance",
    "card no. {card} exp 09/28",
    "Pay with {card} if paypal fails",
)


def luhn_complete(digits: str) -> str:
    """``digits`` with the Luhn check digit appended."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # doubled: they sit at odd positions once the check digit is added
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


@register_injector
class CardInNote(_FieldDefect):
    """A full card number (16 digits, Luhn-valid) typed into the order note, e.g. 'pls charge
    my card 4539 1488 0343 6467 thx' (after a note the customer wrote, if any). Ingest redacts
    it to '[card ••••6467]'.

    Eligible: web, app and marketplace orders. Rate: share of those orders damaged.
    """

    name = "card_in_note"
    description = "a card number typed into the order note"
    reason_codes = (ReasonCode.CARD_NUMBER_IN_TEXT,)
    default_rate = 0.0003
    columns = ("note",)

    def eligible(self, view: pl.DataFrame) -> np.ndarray:
        return (view["channel"] != "pos").to_numpy()

    def card_number(self) -> str:
        prefix = self.choose(_CARD_PREFIXES)
        body = prefix + "".join(str(d) for d in self.rng.integers(0, 10, 15 - len(prefix)))
        number = luhn_complete(body)
        separator = self.choose((" ", " ", "-", ""))
        return separator.join(number[i : i + 4] for i in range(0, 16, 4))

    def damage(self, view: pl.DataFrame, chunk: Chunk) -> dict[str, list[str | None]]:
        out: list[str | None] = []
        for note in _text(view, "note"):
            typed = self.choose(_CARD_NOTES).format(card=self.card_number())
            out.append(typed if not note else f"{note} {typed}")
        return {"note": out}
