"""The plan of one order file: how many orders, when, through which channel, by whom.

Grain: one order (arrays aligned by order position, sorted by creation time), plus the
customers table they point into. Chunks of the plan are rendered by
:mod:`pipelines.generator.chunk`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from pipelines.generator.customers import make_customers
from pipelines.generator.demand import arrival_times
from pipelines.generator.vectors import local_midnight_utc, weighted_choice
from pipelines.generator.world import (
    CHANNELS,
    COUNTRIES,
    COUNTRY_INDEX,
    MAX_CUSTOMERS,
    MAX_GUESTS,
    POS,
    POS_STORES,
    WEB,
)


@dataclass(frozen=True, eq=False)
class Plan:
    """Orders to generate, one array element per order, sorted by creation time (an order
    added as a copy sits right after its original)."""

    n_orders: int
    lines: np.ndarray  # lines per order
    created: np.ndarray  # unix seconds, sorted
    channel: np.ndarray  # index into CHANNELS
    customer: np.ndarray  # row of `customers`, -1 for anonymous POS orders
    store: np.ndarray  # index into the shops (POS_STORES by default), -1 when not POS
    customers: pl.DataFrame
    as_of: int
    window_start: int
    n_registered: int
    twin_of: np.ndarray | None = None
    """Per order: position of the order it copies (same items, amounts, customer), or -1."""
    added_by: np.ndarray | None = None
    """Per order: index of the injector that added it, or -1 (None: no order was added)."""
    signals: np.ndarray | None = None
    """Per order: fraud signals to render (bits of :mod:`pipelines.generator.fraud`), or None
    when no injector asked for any."""

    def subset(self, keep: np.ndarray) -> Plan:
        """The orders where ``keep`` is true, in order (copies must be kept with originals)."""
        new_position = np.cumsum(keep) - 1
        twin_of = added_by = None
        if self.twin_of is not None:
            old = self.twin_of[keep]
            twin_of = np.where(old >= 0, new_position[np.maximum(old, 0)], -1)
        if self.added_by is not None:
            added_by = self.added_by[keep]
        signals = None if self.signals is None else self.signals[keep]
        return replace(
            self,
            n_orders=int(keep.sum()),
            lines=self.lines[keep],
            created=self.created[keep],
            channel=self.channel[keep],
            customer=self.customer[keep],
            store=self.store[keep],
            twin_of=twin_of,
            added_by=added_by,
            signals=signals,
        )

    def with_copies(self, originals: np.ndarray, created: np.ndarray, added_by: int) -> Plan:
        """Insert a copy of each order in ``originals`` (distinct, ascending positions) right
        after it, created at ``created``; the copies are marked as added by ``added_by``."""
        if originals.size == 0:
            return self
        after = originals + 1
        positions = np.arange(self.n_orders)
        new_position = positions + np.searchsorted(originals, positions, side="left")
        old_twins = self.twin_of if self.twin_of is not None else np.full(self.n_orders, -1)
        old_twins = np.where(old_twins >= 0, new_position[np.maximum(old_twins, 0)], -1)
        old_added = self.added_by if self.added_by is not None else np.full(self.n_orders, -1)
        copy_twin = new_position[originals]
        signals = None
        if self.signals is not None:  # a copy shows what its original shows
            signals = np.insert(self.signals, after, self.signals[originals])
        return replace(
            self,
            n_orders=self.n_orders + originals.size,
            lines=np.insert(self.lines, after, self.lines[originals]),
            created=np.insert(self.created, after, created),
            channel=np.insert(self.channel, after, self.channel[originals]),
            customer=np.insert(self.customer, after, self.customer[originals]),
            store=np.insert(self.store, after, self.store[originals]),
            twin_of=np.insert(old_twins, after, copy_twin),
            added_by=np.insert(old_added, after, added_by).astype(np.int64),
            signals=signals,
        )

    def with_orders(
        self,
        *,
        created: np.ndarray,
        channel: np.ndarray,
        customer: np.ndarray,
        lines: np.ndarray,
        signals: np.ndarray,
        added_by: int,
        customers: pl.DataFrame | None = None,
    ) -> Plan:
        """New orders (not copies: ``store`` -1, no twin) merged in creation time order, and
        ``customers`` rows appended to the customers table (``customer`` may point at them).

        An existing copy stays right after its original: existing orders keep their order,
        and a new order placed at the time of an original goes after its copies.
        """
        plan = self
        if customers is not None and customers.height:
            # One chunk per column: every rendered chunk gathers rows of this table.
            table = pl.concat([plan.customers, customers], rechunk=True)
            plan = replace(plan, customers=table)
        if created.size == 0:
            return plan
        order = np.argsort(created, kind="stable")
        created, channel, customer = created[order], channel[order], customer[order]
        lines, signals = lines[order], signals[order]
        # Existing orders by the time of the order they copy (their own for originals): a
        # non-decreasing key, since a copy sits right after its original.
        twins = plan.twin_of if plan.twin_of is not None else np.full(plan.n_orders, -1)
        key = np.where(twins >= 0, plan.created[np.maximum(twins, 0)], plan.created)
        at = np.searchsorted(key, created, side="right")
        positions = np.arange(plan.n_orders)
        new_position = positions + np.searchsorted(at, positions, side="right")
        old_twins = np.where(twins >= 0, new_position[np.maximum(twins, 0)], -1)
        old_added = plan.added_by if plan.added_by is not None else np.full(plan.n_orders, -1)
        old_signals = (
            plan.signals if plan.signals is not None else np.zeros(plan.n_orders, np.int64)
        )
        return replace(
            plan,
            n_orders=plan.n_orders + created.size,
            lines=np.insert(plan.lines, at, lines),
            created=np.insert(plan.created, at, created),
            channel=np.insert(plan.channel, at, channel),
            customer=np.insert(plan.customer, at, customer),
            store=np.insert(plan.store, at, -1),
            twin_of=np.insert(old_twins, at, -1),
            added_by=np.insert(old_added, at, added_by).astype(np.int64),
            signals=np.insert(old_signals, at, signals).astype(np.int64),
        )


def plan_orders(
    n_lines: int,
    seed: int,
    start: date,
    days: int,
    tz: str,
    channel_mix: Mapping[str, float],
    country_mix: Mapping[str, float],
) -> Plan:
    rng = np.random.default_rng([seed, 0])
    zone = ZoneInfo(tz)
    window_start = local_midnight_utc(start, zone)
    as_of = local_midnight_utc(start + timedelta(days=days), zone)
    hours = (as_of - window_start) // 3600

    # Lines per order: exactly n_lines in all (the last order may be cut short).
    estimate = int(n_lines / 1.6) + 100
    lines = (weighted_choice(rng, (0.58, 0.27, 0.10, 0.05), estimate) + 1).astype(np.int64)
    while lines.sum() < n_lines:
        more = weighted_choice(rng, (0.58, 0.27, 0.10, 0.05), estimate) + 1
        lines = np.concatenate([lines, more.astype(np.int64)])
    total = np.cumsum(lines)
    n_orders = int(np.searchsorted(total, n_lines) + 1)
    lines = lines[:n_orders].copy()
    lines[-1] -= int(total[n_orders - 1] - n_lines)

    mix = [float(channel_mix.get(c, 0.0)) for c in CHANNELS]
    channel = weighted_choice(rng, mix, n_orders)
    created = np.empty(n_orders, dtype=np.int64)
    for is_pos in (False, True):
        mask = (channel == POS) == is_pos
        created[mask] = arrival_times(rng, int(mask.sum()), window_start, hours, tz, is_pos)
    order = np.argsort(created, kind="stable")
    created = created[order]
    channel = channel[order]

    # Customers: registered ones come back (heavy-tailed), online guests are one-offs.
    countries = [c.code for c in COUNTRIES]
    cmix = [float(country_mix.get(c, 0.0)) for c in countries]
    guest = (channel == WEB) & (rng.random(n_orders) < 0.08)
    registered_orders = (channel != POS) & ~guest
    # Capped so that memory stays bounded however many lines are asked for.
    n_registered = min(max(10, int(registered_orders.sum())), MAX_CUSTOMERS)
    n_guest_orders = int(guest.sum())
    n_guests = min(n_guest_orders, MAX_GUESTS)
    appetite = rng.lognormal(0.0, 1.0, n_registered)
    customer = np.full(n_orders, -1, dtype=np.int64)
    k = int(registered_orders.sum())
    customer[registered_orders] = rng.choice(n_registered, size=k, p=appetite / appetite.sum())
    customer[guest] = n_registered + np.arange(n_guest_orders) % max(n_guests, 1)
    cust_country = np.concatenate(
        [weighted_choice(rng, cmix, n_registered), weighted_choice(rng, cmix, n_guests)]
    ).astype(np.int64)

    # POS: a store per order; a quarter of POS buyers are known customers of that country.
    store = np.full(n_orders, -1, dtype=np.int64)
    pos = np.flatnonzero(channel == POS)
    store[pos] = weighted_choice(rng, (0.45, 0.3, 0.25), len(pos))
    known = pos[rng.random(len(pos)) < 0.25]
    for s, shop in enumerate(POS_STORES):
        members = np.flatnonzero(cust_country[:n_registered] == COUNTRY_INDEX[shop.country])
        here = known[store[known] == s]
        if len(members) and len(here):
            customer[here] = members[rng.integers(0, len(members), len(here))]

    # When each customer signed up: long before the window, or just before their first order.
    first_seen = np.full(n_registered + n_guests, -1, dtype=np.int64)
    seen, first_index = np.unique(customer[customer >= 0], return_index=True)
    first_seen[seen] = created[customer >= 0][first_index]
    signed_up = window_start - rng.integers(86_400, 1_200 * 86_400, n_registered + n_guests)
    new = (rng.random(n_registered + n_guests) < 0.3) & (first_seen >= 0)
    signed_up = np.where(new, first_seen - rng.integers(60, 1_800, len(new)), signed_up)
    signed_up[n_registered:] = -1  # guests have no account
    customers = make_customers(rng, cust_country, n_registered, signed_up)
    return Plan(
        n_orders=n_orders,
        lines=lines,
        created=created,
        channel=channel,
        customer=customer,
        store=store,
        customers=customers,
        as_of=as_of,
        window_start=window_start,
        n_registered=n_registered,
    )
