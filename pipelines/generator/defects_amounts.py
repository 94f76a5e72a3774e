"""Injectors of entry-accuracy defects in amounts, ranges, references and times: a subtotal or
total that does not add up, an invalid quantity, a negative or far-off unit price, an unknown
SKU, timestamps out of order or in the future, an impossible status transition, a stated
line amount or captured amount that contradicts its parts, a currency that is no ISO code.

Grain: at most one changed line (or one set of order fields) per order and injector; every
injector draws the same number of values per chunk whatever it hits, so its choices do not
depend on what other injectors do. Each injector makes exactly its own reason code fire under
the generic format's rules (``orderlens/contracts.py``): when it changes a line's amount it
moves the order's subtotal and total by the same amount (so ``subtotal = sum(quantity *
unit_price - line_discount)`` and ``total = subtotal - total_discounts + shipping +
total_tax`` still hold), and it changes amounts by differences, so another defect on the same
order stays. Order fields are changed in the chunk's numbers (``Chunk.pre``) as well as in its
text, so the earlier copy of an order that overlapping exports write (re-rendered from the
numbers) shows the same defect; no injector here moves an order to another monthly file.
No order with another order of the same customer less than an hour apart is damaged
(``near_another_order``): a re-submitted order and its original keep the same items, total
and times, so the re-submission stays a recognisable duplicate. Rates ("share of orders")
are of the orders drawn, less those.

Ground truth: the changed line and, when an order field changed, the order's first line
(where order fields are written), under the injector's code.

The stated amounts (``line_total``, ``paid_amount``) follow their parts unless an injector
here contradicts them: a line injector moves a line's stated amount with its new amount, and
the rendered ``paid_amount`` is the (possibly mistyped) total unless :class:`PaymentMismatch`
set another.

Registered on import (``pipelines/generator/__init__.py``), so ``default_injector_specs()``
(every registered injector) includes them at their small default rates; the committed demo
sample runs no injector. Pick them with ``InjectorSpec(name, rate)``; :data:`AMOUNT_DEFECTS`
lists their names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import numpy as np
import polars as pl

from orderlens.reasons import ReasonCode
from pipelines.generator.chunk import Chunk, _order_columns
from pipelines.generator.injectors import (
    ChunkContext,
    Injector,
    RecordMark,
    near_another_order,
    register_injector,
)
from pipelines.generator.world import CURRENCY_INDEX

_DEFAULT_RATE = 0.0003
_HOUR = 3600
_FUTURE_YEAR = 2099
_OUTLIER_MIN_LINES = 10
"""A price outlier is only injected on a SKU (in a currency) sold on at least this many lines
of the chunk: the rule compares with the SKU's median and skips SKUs with fewer than 5 lines."""
_SKU_CHARACTERS = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))


# --------------------------------------------------------------------------------------------
# Helpers


def _money(minor: int, exponent: int) -> str:
    """Minor units as decimal text (negative amounts keep their sign)."""
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def _minor(text: str | None, exponent: int) -> int | None:
    """Decimal text as minor units; None when blank, not a number or finer than a minor unit."""
    if text is None:
        return None
    try:
        value = Decimal(text).scaleb(exponent)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


def _count(text: str | None) -> int | None:
    """A quantity as written by the generator (a positive whole number), else None."""
    if text is None or not text.isdigit() or int(text) < 1:
        return None
    return int(text)


class _Edits:
    """Changes to one chunk: line text, order numbers (re-rendered as text) and marks."""

    def __init__(self, chunk: Chunk, injector: Injector) -> None:
        assert chunk.pre is not None and chunk.opts is not None
        self.chunk = chunk
        self.pre = chunk.pre
        self.injector = injector
        self.line_text: dict[str, dict[int, str]] = defaultdict(dict)
        self.numbers: dict[str, dict[int, int | str]] = defaultdict(dict)
        self.shown: dict[str, set[int]] = defaultdict(set)
        self.marked: set[int] = set()
        self.first_line = np.searchsorted(chunk.order_of_line, np.arange(chunk.n_orders))
        self.n_lines = np.bincount(chunk.order_of_line, minlength=chunk.n_orders)
        self.sku_index = {sku: i for i, sku in enumerate(chunk.opts.catalog.skus)}

    def as_catalogued(self, line: int) -> bool:
        """The line sells a catalogue SKU at the catalogue's price (no other injector changed
        its SKU or price: a second defect on it could hide the first)."""
        assert self.chunk.opts is not None
        order = int(self.chunk.order_of_line[line])
        sku = self.sku_index.get(self.chunk.lines["sku"][line])
        currency = CURRENCY_INDEX.get(self.pre["currency"][order])
        if sku is None or currency is None:
            return False
        price = int(self.chunk.opts.catalog.prices[sku, currency])
        exponent = int(self.pre["_exp"][order])
        return _minor(self.chunk.lines["unit_price"][line], exponent) == price

    def set_line(self, line: int, column: str, text: str) -> None:
        self.line_text[column][line] = text
        self.marked.add(line)

    def set_order(
        self, order: int, values: dict[str, int | str], shown: tuple[str, ...] | None = None
    ) -> None:
        """Change an order's numbers and re-render ``shown`` (default: the changed columns)."""
        for name, value in values.items():
            self.numbers[name][order] = value
        for name in shown if shown is not None else tuple(values):
            self.shown[name].add(order)
        if "total" in values or "paid_at" in values:
            self.shown["paid_amount"].add(order)  # rendered from them
        self.marked.add(int(self.first_line[order]))

    def move_amounts(self, order: int, delta: int, subtotal: int, total: int) -> None:
        """Subtotal and total move by ``delta`` (a line's amount changed); a refund follows a
        total that fell below it (a fully refunded order refunds its whole new total)."""
        new_total = total + delta
        values: dict[str, int | str] = {"subtotal": subtotal + delta, "total": new_total}
        status = self.pre["financial_status"][order]
        refunded = int(self.pre["refunded_amount"][order])
        if status == "refunded" or (status == "partially_refunded" and refunded > new_total):
            values["refunded_amount"] = new_total
        self.set_order(order, values)

    def apply(self) -> tuple[Chunk, list[RecordMark]]:
        chunk = self.chunk
        if not self.marked:
            return chunk, []
        lines = chunk.lines
        if self.line_text:
            lines = lines.with_columns(
                _scattered(lines[name], changes) for name, changes in self.line_text.items()
            )
        orders, pre = chunk.orders, self.pre
        if self.numbers:
            pre = pre.with_columns(
                _scattered(pre[name], changes) for name, changes in self.numbers.items()
            )
            assert chunk.opts is not None
            rows = np.array(sorted(set().union(*self.shown.values())), dtype=np.int64)
            shown = pre[rows].select(_order_columns(chunk.opts))
            at = {int(r): i for i, r in enumerate(rows.tolist())}
            orders = orders.with_columns(
                _scattered(orders[name], {r: shown[name][at[r]] for r in changed})
                for name, changed in self.shown.items()
            )
        marks = [self.injector.mark(np.array(sorted(self.marked), dtype=np.int64))]
        return replace(chunk, orders=orders, lines=lines, pre=pre), marks


def _scattered(series: pl.Series, changes: Mapping[int, object]) -> pl.Series:
    out = series.clone()
    positions = sorted(changes)
    out.scatter(positions, pl.Series([changes[p] for p in positions], dtype=series.dtype))
    return out


class _Defect(Injector, ABC):
    """Draws, per order of a chunk: whether it is hit, which line, which variant, how much."""

    draws = 4

    def alter_chunk(self, chunk: Chunk, context: ChunkContext) -> tuple[Chunk, list[RecordMark]]:
        u = self.rng.random((self.draws + 1, chunk.n_orders))
        if chunk.pre is None or chunk.opts is None or chunk.n_orders == 0:
            return chunk, []
        edits = _Edits(chunk, self)
        drawn = np.flatnonzero(u[0] < self.rate)
        for order in drawn[~near_another_order(chunk, drawn)].tolist():
            self.alter(edits, order, u[1:, order])
        return edits.apply()

    @abstractmethod
    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        """Damage drawn order ``order`` through ``edits`` (``u``: its remaining draws)."""

    @staticmethod
    def lines_from(edits: _Edits, order: int, u: float) -> list[int]:
        """The order's lines, starting at a drawn one (the first that qualifies is taken)."""
        first, n = int(edits.first_line[order]), int(edits.n_lines[order])
        start = int(u * n)
        return [first + (start + k) % n for k in range(n)]


class _LineDefect(_Defect):
    """Changes one line's amount (quantity or price) and moves the order's totals with it."""

    catalogued_only = False
    """Only lines at their catalogue SKU and price (an injector that changes the price)."""

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        lines = edits.chunk.lines
        exponent = int(edits.pre["_exp"][order])
        subtotal = int(edits.pre["subtotal"][order])
        total = int(edits.pre["total"][order])
        for line in self.lines_from(edits, order, float(u[0])):
            quantity = _count(lines["quantity"][line])
            price = _minor(lines["unit_price"][line], exponent)
            discount = _minor(lines["line_discount"][line], exponent)
            if quantity is None or price is None or price <= 0 or discount is None:
                continue
            if self.catalogued_only and not edits.as_catalogued(line):
                continue
            change = self.change(edits, line, quantity, price, discount, subtotal, total, u)
            if change is None:
                continue
            texts, amount = change
            delta = amount - (quantity * price - discount)
            # The stated line amount moves with its parts, so it keeps whatever error it had.
            stated = _minor(lines["line_total"][line], exponent)
            if stated is not None:
                texts = {**texts, "line_total": _money(stated + delta, exponent)}
            for name, value in texts.items():
                edits.set_line(line, name, value)
            edits.move_amounts(order, delta, subtotal, total)
            return

    @abstractmethod
    def change(
        self,
        edits: _Edits,
        line: int,
        quantity: int,
        price: int,
        discount: int,
        subtotal: int,
        total: int,
        u: np.ndarray,
    ) -> tuple[dict[str, str], int] | None:
        """New text of the line's fields and its new amount (minor units), or None when
        this line cannot take the defect."""


def _keeps_totals(old_amount: int, new_amount: int, subtotal: int, total: int) -> bool:
    """Subtotal and total stay zero or more (a blank amount would hide the defect)."""
    delta = new_amount - old_amount
    return subtotal + delta >= 0 and total + delta >= 0


# --------------------------------------------------------------------------------------------
# Arithmetic


@register_injector
class SubtotalMismatch(_Defect):
    """The subtotal is entered wrong: 1 to 50 major units off (JPY: 100 to 5,000 yen), or two
    adjacent digits transposed (three times in ten); the total carries the same error, so it
    still equals subtotal - discounts + shipping + tax and only the subtotal contradicts the
    lines.

    Rate: share of orders.
    """

    name = "subtotal_mismatch"
    description = "subtotal off (digits transposed or a few units), total consistent with it"
    reason_codes = (ReasonCode.SUBTOTAL_MISMATCH,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        subtotal = int(edits.pre["subtotal"][order])
        total = int(edits.pre["total"][order])
        exponent = int(edits.pre["_exp"][order])
        delta = None
        if u[0] < 0.3:
            swapped = _transposed(subtotal, float(u[1]))
            delta = None if swapped is None else swapped - subtotal
        if delta is None:
            delta = (1 + int(u[1] * 50)) * 10 ** max(exponent, 2) * (1 if u[2] < 0.5 else -1)
        if subtotal + delta < 0 or total + delta < 0:
            delta = abs(delta)
        edits.set_order(order, {"subtotal": subtotal + delta, "total": total + delta})


def _transposed(value: int, u: float) -> int | None:
    """``value`` with two adjacent, different digits swapped (never a leading zero)."""
    digits = str(value)
    places = [
        i for i in range(len(digits) - 1)
        if digits[i] != digits[i + 1] and not (i == 0 and digits[1] == "0")
    ]  # fmt: skip
    if not places:
        return None
    i = places[int(u * len(places))]
    return int(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])


@register_injector
class TotalMismatch(_Defect):
    """The total is entered wrong: one digit of its major units changed (JPY: from the
    hundreds), or 10 major units added (JPY: 1,000 yen); nothing else changes.

    Rate: share of orders.
    """

    name = "total_mismatch"
    description = "total off by a typo (one digit changed, or 10 units more)"
    reason_codes = (ReasonCode.TOTAL_MISMATCH,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        total = int(edits.pre["total"][order])
        lowest = max(int(edits.pre["_exp"][order]), 2)
        digits = str(total)
        if u[0] < 0.5 and len(digits) > lowest:
            place = len(digits) - 1 - (lowest + int(u[1] * (len(digits) - lowest)))
            old = int(digits[place])
            choices = [d for d in range(10) if d != old and (place > 0 or d > 0)]
            new = choices[int(u[2] * len(choices))]
            changed = int(digits[:place] + str(new) + digits[place + 1 :])
        else:
            changed = total + 10 * 10**lowest
        edits.set_order(order, {"total": changed})


# --------------------------------------------------------------------------------------------
# Ranges


@register_injector
class QuantityInvalid(_LineDefect):
    """A line's quantity is 0, negative (the units, negated) or fractional (half a unit
    more, e.g. 1.5); a zero or negative line keeps no line discount. Subtotal and total (and
    a full refund) follow the line's new amount, rounded to the minor unit; zero and negative
    quantities fall back to a fractional one where the order would add up to less than zero.

    Rate: share of orders (one line each).
    """

    name = "quantity_invalid"
    description = "a line's quantity 0, negative or fractional; totals follow"
    reason_codes = (ReasonCode.QUANTITY_INVALID,)
    default_rate = _DEFAULT_RATE

    def change(
        self,
        edits: _Edits,
        line: int,
        quantity: int,
        price: int,
        discount: int,
        subtotal: int,
        total: int,
        u: np.ndarray,
    ) -> tuple[dict[str, str], int] | None:
        exponent = int(edits.pre["_exp"][int(edits.chunk.order_of_line[line])])
        old = quantity * price - discount
        if u[1] < 2 / 3:
            units = 0 if u[1] < 1 / 3 else -quantity
            if _keeps_totals(old, units * price, subtotal, total):
                no_discount = {"line_discount": _money(0, exponent)} if discount else {}
                return {"quantity": str(units), **no_discount}, units * price
        half_up = ((2 * quantity + 1) * price + 1) // 2  # (quantity + 0.5) * price
        return {"quantity": f"{quantity}.5"}, half_up - discount


@register_injector
class NegativePrice(_LineDefect):
    """A line's unit price entered with a minus sign; subtotal and total (and a full refund)
    follow. Only lines whose order still adds up to zero or more (mostly orders with several
    lines).

    Rate: share of orders (one line each; orders where no line qualifies are left alone).
    """

    name = "negative_price"
    description = "a line's unit price negative; totals follow"
    reason_codes = (ReasonCode.PRICE_NEGATIVE,)
    default_rate = _DEFAULT_RATE
    catalogued_only = True

    def change(
        self,
        edits: _Edits,
        line: int,
        quantity: int,
        price: int,
        discount: int,
        subtotal: int,
        total: int,
        u: np.ndarray,
    ) -> tuple[dict[str, str], int] | None:
        exponent = int(edits.pre["_exp"][int(edits.chunk.order_of_line[line])])
        new = -quantity * price - discount
        if not _keeps_totals(quantity * price - discount, new, subtotal, total):
            return None
        return {"unit_price": _money(-price, exponent)}, new


@register_injector
class PriceOutlier(_LineDefect):
    """A line's unit price (and its line discount) ten times too high, or a tenth (a
    misplaced decimal point); subtotal and total (and a full refund) follow, the line tax is
    left as it was. Only SKUs sold on at least 10 lines of the chunk in the order's currency,
    so the SKU's median price is the catalogue's.

    Rate: share of orders (one line each; orders where no line qualifies are left alone).
    """

    name = "price_outlier"
    description = "a line's unit price x10 or /10; totals follow"
    reason_codes = (ReasonCode.PRICE_OUTLIER,)
    default_rate = _DEFAULT_RATE
    catalogued_only = True
    _sold: np.ndarray | None = None
    """Per line of the chunk: lines of the same SKU in the same currency."""

    def alter_chunk(self, chunk: Chunk, context: ChunkContext) -> tuple[Chunk, list[RecordMark]]:
        self._sold = None
        if chunk.pre is not None and chunk.n_orders:
            keys = pl.DataFrame(
                {
                    "sku": chunk.lines["sku"],
                    "currency": chunk.pre["currency"].gather(chunk.order_of_line),
                }
            )
            self._sold = keys.select(pl.len().over("sku", "currency"))["len"].to_numpy()
        return super().alter_chunk(chunk, context)

    def change(
        self,
        edits: _Edits,
        line: int,
        quantity: int,
        price: int,
        discount: int,
        subtotal: int,
        total: int,
        u: np.ndarray,
    ) -> tuple[dict[str, str], int] | None:
        if self._sold is None or self._sold[line] < _OUTLIER_MIN_LINES:
            return None
        exponent = int(edits.pre["_exp"][int(edits.chunk.order_of_line[line])])
        old = quantity * price - discount
        new_price, new_discount = (price + 5) // 10, (discount + 5) // 10
        new = quantity * new_price - new_discount
        if u[1] >= 0.5 or new_price * 5 >= price or not _keeps_totals(old, new, subtotal, total):
            new_price, new_discount = price * 10, discount * 10
            new = quantity * new_price - new_discount
        texts = {"unit_price": _money(new_price, exponent)}
        if new_discount != discount:
            texts["line_discount"] = _money(new_discount, exponent)
        return texts, new


# --------------------------------------------------------------------------------------------
# References


@register_injector
class UnknownSku(_Defect):
    """A line's SKU replaced by one the catalogue does not know (``ZZ-`` and six letters or
    digits, as a mistyped or retired code); its name, price and amounts stay.

    Rate: share of orders (one line each).
    """

    name = "unknown_sku"
    description = "a line's SKU not in the catalogue"
    reason_codes = (ReasonCode.SKU_UNKNOWN,)
    default_rate = _DEFAULT_RATE
    draws = 7

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        lines = [x for x in self.lines_from(edits, order, float(u[0])) if edits.as_catalogued(x)]
        if not lines:
            return
        line = lines[0]
        picks = (u[1:7] * len(_SKU_CHARACTERS)).astype(np.int64)
        sku = "ZZ-" + "".join(_SKU_CHARACTERS[picks].tolist())
        assert sku not in edits.sku_index
        edits.set_line(line, "sku", sku)


# --------------------------------------------------------------------------------------------
# Time

_EVENT_TIMES = ("paid_at", "cancelled_at", "refunded_at", "shipped_at", "delivered_at")
_CHAIN_EVENTS = ("paid_at", "shipped_at", "delivered_at")
"""Times after created_at that must come in this order."""


@register_injector
class PaidBeforeCreated(_Defect):
    """Times out of order: paid_at 1 minute to 12 hours before created_at, or (three times
    in ten, for orders that shipped) shipped_at that long before paid_at. Other fields stay.

    Rate: share of orders; only paid orders are changed.
    """

    name = "paid_before_created"
    description = "paid before the order was created (or shipped before it was paid)"
    reason_codes = (ReasonCode.TIMESTAMP_ORDER,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        paid = int(edits.pre["paid_at"][order])
        if paid < 0:
            return
        early = 60 + int(u[1] * 12 * _HOUR)
        shipped = int(edits.pre["shipped_at"][order])
        if u[0] < 0.3 and shipped >= 0:
            edits.set_order(order, {"shipped_at": paid - early})
        else:
            edits.set_order(order, {"paid_at": int(edits.pre["created_at"][order]) - early})


@register_injector
class FutureTimestamp(_Defect):
    """Every time of the order (created, paid, cancelled, refunded, shipped, delivered, and
    the promised delivery date) moved by the same number of days, so that it was created in
    2099 (near the same day of the year) and its times stay in order; the record stays in the
    monthly file of its real creation time. The customer's sign-up time stays.

    Rate: share of orders.
    """

    name = "future_timestamp"
    description = "the order's times all moved into 2099"
    reason_codes = (ReasonCode.FUTURE_TIMESTAMP,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        created = int(edits.pre["created_at"][order])
        day = datetime.fromtimestamp(created, UTC).date()
        # the same day of the year in 2099, kept off its first and last days: the year is
        # 2099 in every time zone
        target = date(_FUTURE_YEAR, day.month, min(day.day, 28))
        target = min(max(target, date(_FUTURE_YEAR, 1, 2)), date(_FUTURE_YEAR, 12, 28))
        shift = (target - day).days * 86_400
        values: dict[str, int | str] = {"created_at": created + shift}
        for name in _EVENT_TIMES:
            value = int(edits.pre[name][order])
            if value >= 0:
                values[name] = value + shift
        edits.set_order(order, values, (*_EVENT_TIMES, "created_at", "promised_delivery_date"))


@register_injector
class InvalidStatusTransition(_Defect):
    """An impossible status history: a delivered order without its shipment (shipped_at,
    carrier and tracking number blank, delivered_at kept), or a refunded order that was never
    paid (paid_at blank and financial_status ``pending``, its refund kept). Half and half
    where an order could take both.

    Rate: share of orders; only delivered or (partially) refunded orders whose times are in
    order are changed.
    """

    name = "invalid_status_transition"
    description = "delivered but never shipped, or refunded but never paid"
    reason_codes = (ReasonCode.STATUS_TRANSITION_INVALID,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        pre = edits.pre
        chain = [int(pre[name][order]) for name in ("created_at", *_CHAIN_EVENTS)]
        present = [t for t in chain if t >= 0]
        if present != sorted(present):
            return  # times already out of order: a blank one could put them back in order
        delivered = (
            pre["fulfillment_status"][order] == "delivered"
            and int(pre["shipped_at"][order]) >= 0
            and int(pre["delivered_at"][order]) >= 0
        )
        refunded = (
            pre["financial_status"][order] in ("refunded", "partially_refunded")
            and int(pre["paid_at"][order]) >= 0
            and int(pre["refunded_at"][order]) >= 0
        )
        if delivered and (not refunded or u[0] < 0.5):
            edits.set_order(order, {"shipped_at": -1}, ("shipped_at", "carrier", "tracking_number"))
        elif refunded:
            edits.set_order(order, {"paid_at": -1, "financial_status": "pending"})


@register_injector
class LineAmountMismatch(_Defect):
    """A line's stated amount (``line_total``) contradicts its quantity, unit price and
    discount: the unit price written as the line amount (quantity 2 or more), the line
    discount not taken off (discounted lines), or two adjacent digits transposed; else 1 to
    20 major units off (JPY: 100 to 2,000 yen). Quantity, price, subtotal and total stay.

    Rate: share of orders (one line each; lines whose stated amount already disagrees are
    left alone).
    """

    name = "line_amount_mismatch"
    description = "a line's stated amount off its quantity x unit price - discount"
    reason_codes = (ReasonCode.LINE_AMOUNT_MISMATCH,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        lines = edits.chunk.lines
        exponent = int(edits.pre["_exp"][order])
        for line in self.lines_from(edits, order, float(u[0])):
            quantity = _count(lines["quantity"][line])
            price = _minor(lines["unit_price"][line], exponent)
            discount = _minor(lines["line_discount"][line], exponent)
            stated = _minor(lines["line_total"][line], exponent)
            if quantity is None or price is None or discount is None or stated is None:
                continue
            amount = quantity * price - discount
            if stated != amount:
                continue
            wrong = None
            if u[1] < 0.3 and quantity >= 2:
                wrong = price - discount
            elif u[1] < 0.5 and discount > 0:
                wrong = amount + discount
            elif u[1] < 0.7:
                wrong = _transposed(amount, float(u[2]))
            if wrong is None or abs(wrong - amount) <= 1:
                wrong = amount + (1 + int(u[2] * 20)) * 10 ** max(exponent, 2)
            edits.set_line(line, "line_total", _money(wrong, exponent))
            return


@register_injector
class PaymentMismatch(_Defect):
    """The amount captured (``paid_amount``) is not the total: a partial capture (30 % to
    90 % of it), or 1 to 20 major units (JPY: 100 to 2,000 yen) short or over. The total
    and everything else stay.

    Rate: share of orders; only paid orders are changed.
    """

    name = "payment_mismatch"
    description = "the amount captured differs from the total"
    reason_codes = (ReasonCode.PAYMENT_MISMATCH,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        if int(edits.pre["paid_at"][order]) < 0:
            return
        total = int(edits.pre["total"][order])
        lowest = 10 ** max(int(edits.pre["_exp"][order]), 2)
        if u[0] < 0.4 and total >= 10 * lowest:
            paid = total * (3 + int(u[1] * 7)) // 10
        else:
            step = (1 + int(u[1] * 20)) * lowest
            paid = total + step if u[2] < 0.5 or total <= step else total - step
        edits.set_order(order, {"_paid_amount": paid}, ("paid_amount",))


_CURRENCY_SIGNS = {"USD": "US$", "EUR": "€", "GBP": "£", "CAD": "C$", "JPY": "¥"}


@register_injector
class CurrencyInvalid(_Defect):
    """The currency is not an ISO 4217 code: its sign (``€``, ``US$``...) or its code with a
    letter typed twice (``EURR``). Amounts stay in the order's real currency.

    Rate: share of orders; only orders whose lines all sell catalogue SKUs at their
    catalogue price (price history is kept per currency).
    """

    name = "currency_invalid"
    description = "the currency written as a sign or a mistyped code"
    reason_codes = (ReasonCode.CURRENCY_INVALID,)
    default_rate = _DEFAULT_RATE

    def alter(self, edits: _Edits, order: int, u: np.ndarray) -> None:
        first, n = int(edits.first_line[order]), int(edits.n_lines[order])
        if not all(edits.as_catalogued(line) for line in range(first, first + n)):
            return  # a price already far off its SKU's would no longer be compared with it
        code = str(edits.pre["currency"][order])
        sign = _CURRENCY_SIGNS.get(code)
        wrong = sign if sign is not None and u[0] < 0.5 else code + code[-1]
        edits.set_order(order, {"currency": wrong})


AMOUNT_DEFECTS: tuple[str, ...] = (
    SubtotalMismatch.name,
    TotalMismatch.name,
    QuantityInvalid.name,
    NegativePrice.name,
    PriceOutlier.name,
    UnknownSku.name,
    PaidBeforeCreated.name,
    FutureTimestamp.name,
    InvalidStatusTransition.name,
    LineAmountMismatch.name,
    PaymentMismatch.name,
    CurrencyInvalid.name,
)
"""Names of the injectors of this module, in registration order."""
