"""The plan of a whole merchant: every order of every channel over a date range, and who
placed it.

Grain: one order (arrays aligned by position, sorted by creation time) plus one row per
customer. Customers are new (their first order falls in the window: they sign up at checkout)
or returning (they bought before the window); repeat orders mostly stay on a customer's home
channel but not always, so customers buy across channels. Web guests and anonymous till sales
have no e-mail; till customers who give their phone (loyalty) are known customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from pipelines.generator.customers import make_customers
from pipelines.generator.demand import Demand, arrival_times
from pipelines.generator.plan import Plan
from pipelines.generator.vectors import local_midnight_utc, weighted_choice
from pipelines.generator.world import (
    CHANNELS,
    COUNTRIES,
    COUNTRY_INDEX,
    DEFAULT_COUNTRY_MIX,
    MAX_CUSTOMERS,
    MAX_GUESTS,
    MERCHANT_POS_STORES,
    POS,
    WEB,
    PosStore,
)

LINES_PER_ORDER = (0.58, 0.27, 0.10, 0.05)
"""Share of orders with 1, 2, 3 and 4 lines."""


def _default_channel_mix() -> dict[str, float]:
    return {"online_store": 0.5, "marketplace": 0.15, "mobile_app": 0.2, "pos": 0.15}


@dataclass(frozen=True)
class Audience:
    """Who buys from the merchant, where, and how loyal they are."""

    timezone: str = "America/New_York"
    """The merchant's clock: days of promotions, the spike and statuses' "as of"."""
    channel_mix: Mapping[str, float] = field(default_factory=_default_channel_mix)
    country_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_COUNTRY_MIX))
    pos_stores: tuple[PosStore, ...] = MERCHANT_POS_STORES
    pos_store_mix: tuple[float, ...] = (0.4, 0.25, 0.2, 0.15)
    guest_share: float = 0.12
    """Web orders checked out as a guest (no account, no e-mail)."""
    new_customer_share: float = 0.35
    """Registered orders that are a new customer's first."""
    returning_customers: float = 0.12
    """Customers who bought before the window, per registered order in it."""
    home_channel_share: float = 0.6
    """Repeat online orders placed on the customer's home channel (else any channel)."""
    pos_known_share: float = 0.3
    """Till sales to a known customer (they give their phone for the loyalty programme)."""

    def __post_init__(self) -> None:
        unknown = set(self.channel_mix) - set(CHANNELS)
        if unknown:
            raise ValueError(f"unknown channel(s) {sorted(unknown)}; use {', '.join(CHANNELS)}")
        if sum(self.channel_mix.values()) <= 0:
            raise ValueError("channel_mix must give some channel a positive weight")
        unknown = set(self.country_mix) - set(COUNTRY_INDEX)
        if unknown:
            raise ValueError(f"unknown country code(s) {sorted(unknown)}")
        if len(self.pos_store_mix) != len(self.pos_stores):
            raise ValueError("pos_store_mix needs one weight per shop")


def plan_merchant(n_orders: int, seed: int, start: date, end: date, demand: Demand,
                  audience: Audience) -> Plan:  # fmt: skip
    """Plan ``n_orders`` orders placed from ``start`` to ``end`` (merchant-local days)."""
    rng = np.random.default_rng([seed, 20])
    zone = ZoneInfo(audience.timezone)
    window_start = local_midnight_utc(start, zone)
    as_of = local_midnight_utc(end + timedelta(days=1), zone)
    hours = (as_of - window_start) // 3600

    lines = (weighted_choice(rng, LINES_PER_ORDER, n_orders) + 1).astype(np.int64)
    mix = [float(audience.channel_mix.get(c, 0.0)) for c in CHANNELS]
    channel = weighted_choice(rng, mix, n_orders).astype(np.int64)
    created = np.empty(n_orders, dtype=np.int64)
    store = np.full(n_orders, -1, dtype=np.int64)
    online = np.flatnonzero(channel != POS)
    created[online] = arrival_times(
        rng, online.size, window_start, hours, audience.timezone, False, demand
    )
    till = np.flatnonzero(channel == POS)
    store[till] = weighted_choice(rng, audience.pos_store_mix, till.size)
    for s, shop in enumerate(audience.pos_stores):
        here = till[store[till] == s]
        tz = shop.timezone or audience.timezone
        created[here] = arrival_times(rng, here.size, window_start, hours, tz, True, demand)
    order = np.argsort(created, kind="stable")
    lines, channel, created, store = lines[order], channel[order], created[order], store[order]

    # Registered customers: new ones appear over the window, returning ones existed before.
    guest = (channel == WEB) & (rng.random(n_orders) < audience.guest_share)
    registered = np.flatnonzero((channel != POS) & ~guest)
    k = registered.size
    n_returning = max(10, int(k * audience.returning_customers))
    is_new = rng.random(k) < audience.new_customer_share
    is_new &= np.cumsum(is_new) <= MAX_CUSTOMERS - n_returning  # memory stays bounded
    new_rank = np.cumsum(is_new) - 1
    n_registered = n_returning + int(is_new.sum())
    appetite = np.cumsum(rng.lognormal(0.0, 1.0, n_registered))
    known_before = n_returning + new_rank + 1 - is_new  # customers who exist at each order
    weight_point = rng.random(k) * appetite[known_before - 1]
    repeat_pick = np.minimum(np.searchsorted(appetite, weight_point, side="right"),
                             known_before - 1)  # fmt: skip
    customer = np.full(n_orders, -1, dtype=np.int64)
    customer[registered] = np.where(is_new, n_returning + new_rank, repeat_pick)

    # Repeat online orders mostly stay on the customer's home channel.
    online_mix = [m if c != "pos" else 0.0 for c, m in zip(CHANNELS, mix, strict=True)]
    home = weighted_choice(rng, online_mix, n_registered).astype(np.int64)
    home[n_returning + new_rank[is_new]] = channel[registered[is_new]]
    loyal = ~is_new & (rng.random(k) < audience.home_channel_share)
    channel[registered[loyal]] = home[customer[registered[loyal]]]

    # Guests: identities reused beyond MAX_GUESTS; they have no account.
    guest_orders = np.flatnonzero(guest)
    n_guests = min(guest_orders.size, MAX_GUESTS)
    customer[guest_orders] = n_registered + np.arange(guest_orders.size) % max(n_guests, 1)
    cmix = [float(audience.country_mix.get(c.code, 0.0)) for c in COUNTRIES]
    country = weighted_choice(rng, cmix, n_registered + n_guests).astype(np.int64)

    # Till sales: some buyers are returning customers of the shop's country (by phone).
    till_orders = np.flatnonzero(channel == POS)
    known = till_orders[rng.random(till_orders.size) < audience.pos_known_share]
    for s, shop in enumerate(audience.pos_stores):
        members = np.flatnonzero(country[:n_returning] == COUNTRY_INDEX[shop.country])
        here = known[store[known] == s]
        if members.size and here.size:
            customer[here] = members[rng.integers(0, members.size, here.size)]

    signed_up = window_start - rng.integers(86_400, 1_500 * 86_400, n_registered + n_guests)
    first_orders = registered[is_new]
    signed_up[n_returning + new_rank[is_new]] = created[first_orders] - rng.integers(
        60, 1_800, first_orders.size
    )
    signed_up[n_registered:] = -1  # guests have no account
    customers = make_customers(
        rng, country, n_registered, signed_up, valid_contacts=True, local_ips=True
    )
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
