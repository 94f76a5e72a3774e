"""One chunk of planned orders rendered as text columns of the generic format.

Grain: ``Chunk.orders`` has one row per order, ``Chunk.lines`` one row per order line;
``Chunk.csv_records()`` gives one CSV record per line. Every random draw of a chunk comes
from a generator seeded by ``(seed, 1, chunk number)`` (promotions and the spike: by
``(seed, 2, chunk number)``), so a chunk is the same whatever else is generated. Orders the
plan marks as copies take their original's items and amounts; ``Chunk.snapshot`` re-renders
orders as an earlier export showed them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_LINE_FIELDS, GENERIC_ORDER_FIELDS
from pipelines.generator.catalog import Catalog
from pipelines.generator.demand import Demand
from pipelines.generator.plan import Plan
from pipelines.generator.signals import FRAUD, HIGH_VALUE, IP_ABROAD, RENDERED, RUSHED, SHIP_ABROAD
from pipelines.generator.vectors import (
    clamp_after,
    digit_strings,
    hex_strings,
    ipv4_strings,
    money_text,
    pick,
    timestamp_text,
    weighted_choice,
)
from pipelines.generator.world import (
    APP,
    APP_USER_AGENTS,
    AUTHORIZED,
    BANK,
    CARD,
    CARD_BRANDS,
    CARRIER_NAMES,
    CARRIERS,
    CASH,
    CHANNELS,
    COUNTRIES,
    COUNTRY_INDEX,
    CURRENCIES,
    CURRENCY_EXPONENT,
    CURRENCY_INDEX,
    CUSTOMER_IP_COUNTRIES,
    DELIVERED,
    DISCOUNT_CODES,
    EXPEDITED,
    EXPRESS,
    FINANCIAL,
    FINANCIAL_NAMES,
    FREE,
    FREE_SHIPPING_FROM,
    FULFILLED,
    FULFILLMENT_NAMES,
    IP_COUNTRIES,
    MARKET_PAY,
    MARKETING_SOURCES,
    MARKETPLACE,
    NOTES,
    PAID,
    PARTIAL,
    PARTIALLY_REFUNDED,
    PAYMENT_NAMES,
    PAYPAL,
    PENDING,
    POS,
    POS_STORES,
    REFUNDED,
    SHIPPING_METHODS,
    SHIPPING_RATES,
    STANDARD,
    UNFULFILLED,
    VOIDED,
    VOUCHER,
    WEB,
    WEB_USER_AGENTS,
    PosStore,
)


@dataclass(frozen=True)
class RenderOptions:
    """How a plan's orders become text: ids, time zone, shops, codes, promotions."""

    seed: int
    tz: str
    source_label: str
    catalog: Catalog
    first_order_number: int
    order_id_prefix: str
    order_id_base: int
    repeat_order_fields: bool
    pos_stores: tuple[PosStore, ...] = POS_STORES
    shop_clocks: bool = False
    """Till orders are written in their shop's time zone (else every row in ``tz``)."""
    pos_email_share: float = 0.3
    """Till orders of known customers that carry their e-mail."""
    standing_codes: tuple[tuple[str, float], ...] = DISCOUNT_CODES
    """Discount codes valid all the time (four of them) and their percentage."""
    demand: Demand | None = None
    """Promotions and the spike (with the merchant's days) change what orders contain."""
    calendar_tz: str = "UTC"
    """Time zone of ``demand``'s dates."""
    anonymous_customer_id: bool = True
    """Kept true for the single-file writer and the committed sample, which give anonymous
    till sales the first customer's id; the merchant leaves it blank."""
    local_ips: bool = False
    """An order's IP address (when not the customer's usual one) is in the order country's
    address blocks (the merchant); False keeps the single-file writer's addresses."""


_ORDER_FIELD_NAMES = tuple(f.name for f in GENERIC_ORDER_FIELDS)
_ALWAYS_ON_LINES = ("source_order_id", "order_number")


def render_chunk(plan: Plan, opts: RenderOptions, lo: int, hi: int, chunk_no: int) -> Chunk:
    """Orders ``lo`` to ``hi - 1`` of the plan (with their lines) as text columns."""
    rng = np.random.default_rng([opts.seed, 1, chunk_no])
    cat = opts.catalog
    m = hi - lo
    seq = np.arange(lo, hi, dtype=np.int64)
    n_lines = plan.lines[lo:hi]
    created = plan.created[lo:hi]
    channel = plan.channel[lo:hi].astype(np.int64)
    cust = plan.customer[lo:hi]
    store = plan.store[lo:hi]
    pos = channel == POS
    web = channel == WEB
    app = channel == APP
    market = channel == MARKETPLACE
    has_cust = cust >= 0

    customers = plan.customers[np.maximum(cust, 0)]
    shops = opts.pos_stores
    store_country = np.array([COUNTRY_INDEX[s.country] for s in shops])[np.maximum(store, 0)]
    cust_country = (
        customers["country"].replace_strict(COUNTRY_INDEX, return_dtype=pl.Int64).to_numpy()
    )
    country = np.where(pos, store_country, cust_country)
    currency_of_country = np.array([CURRENCY_INDEX[c.currency] for c in COUNTRIES])
    currency = currency_of_country[country]
    exponent = np.array([CURRENCY_EXPONENT[c] for c in CURRENCIES])[currency]

    # ---- lines
    n_total = int(n_lines.sum())
    starts = np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)
    order_of_line = np.repeat(np.arange(m), n_lines)
    line_number = np.arange(n_total) - starts[order_of_line] + 1
    sku = rng.choice(len(cat), size=n_total, p=cat.popularity)
    qty = (weighted_choice(rng, (0.74, 0.16, 0.05, 0.03, 0.01, 0.01), n_total) + 1).astype(np.int64)
    promos = _Promotions.of(opts, created, channel, order_of_line, chunk_no)
    if promos is not None:
        sku = promos.spike_skus(sku)
    risk = _Risk.of(plan, opts, lo, hi, chunk_no)
    if risk is not None:
        sku, qty = risk.high_value_lines(sku, qty, order_of_line, line_number)
    price = cat.prices[sku, currency[order_of_line]]
    gross = qty * price
    line_pct = np.array([0.0, 0.10, 0.15, 0.20, 0.25])[
        weighted_choice(rng, (0.93, 0.025, 0.02, 0.015, 0.01), n_total)
    ]
    if promos is not None:
        line_pct = promos.price_cuts(sku, line_pct)
    line_disc = np.floor(gross * line_pct + 0.5).astype(np.int64)
    net = gross - line_disc
    tax_rate = np.where(
        pos,
        np.array([s.tax_rate for s in shops])[np.maximum(store, 0)],
        customers["tax_rate"].to_numpy(),
    )
    taxable = cat.taxable[sku]
    line_tax = np.where(taxable, np.floor(net * tax_rate[order_of_line] + 0.5), 0).astype(np.int64)
    ships = cat.requires_shipping[sku] & ~pos[order_of_line]

    # ---- order amounts
    subtotal = np.add.reduceat(net, starts)
    total_tax = np.add.reduceat(line_tax, starts)
    needs_shipping = np.maximum.reduceat(ships.astype(np.int8), starts) > 0
    codes = opts.standing_codes
    code_pick = weighted_choice(rng, [1.0] * len(codes), m)
    has_code = ~pos & (rng.random(m) < 0.12)
    free_ship_code = ~pos & needs_shipping & (rng.random(m) < 0.03)
    pct = np.where(has_code, np.array([p for _, p in codes])[code_pick], 0.0)
    promo_code = np.full(m, -1, dtype=np.int64)
    if promos is not None:
        promo_code, pct = promos.codes(web | app, pct)
    discounts = np.floor(subtotal * pct + 0.5).astype(np.int64)
    express = needs_shipping & (rng.random(m) < 0.18)
    if risk is not None:
        express |= needs_shipping & risk.has(RUSHED)
    rates = np.array([SHIPPING_RATES[c] for c in CURRENCIES])[currency]
    free_from = np.array([FREE_SHIPPING_FROM[c] for c in CURRENCIES])[currency]
    free = ~express & (subtotal - discounts >= free_from)
    shipping = np.where(express, rates[:, 1], rates[:, 0])
    shipping = np.where(~needs_shipping | free | free_ship_code, 0, shipping).astype(np.int64)
    total = subtotal - discounts + shipping + total_tax
    # discount_codes: a code, the code and FREESHIP, FREESHIP alone, or nothing
    discount_codes = np.where(
        has_code,
        code_pick + np.where(free_ship_code, len(codes), 0),
        np.where(free_ship_code, 2 * len(codes), -1),
    )
    code_text = (
        *(c for c, _ in codes),
        *(f"{c};FREESHIP" for c, _ in codes),
        "FREESHIP",
    )
    discount_code_text = pick(code_text, discount_codes)
    if promos is not None:
        discount_code_text = promos.code_text(promo_code, free_ship_code, discount_code_text)
    shipping_method = np.where(
        ~needs_shipping,
        -1,
        np.where(
            market,
            np.where(express, EXPEDITED, STANDARD),
            np.where(express, EXPRESS, np.where(free | free_ship_code, FREE, STANDARD)),
        ),
    )

    # ---- payment
    method = np.where(
        pos,
        np.where(rng.random(m) < 0.72, CARD, CASH),
        np.where(
            market,
            MARKET_PAY,
            np.array([CARD, PAYPAL, VOUCHER, BANK])[
                weighted_choice(rng, (0.74, 0.16, 0.04, 0.06), m)
            ],
        ),
    )
    if risk is not None:  # a stolen card
        method = np.where(risk.has(FRAUD), CARD, method)
    card = method == CARD
    registered = has_cust & customers["registered"].to_numpy()
    saved_card = registered & (rng.random(m) < 0.75)  # guests have no saved card
    if risk is not None:  # the card the fraudulent account saved (one card behind a burst)
        saved_card |= registered & risk.has(FRAUD)
    brand = np.where(
        saved_card,
        customers["card_brand"].to_numpy(),
        weighted_choice(rng, [b[1] for b in CARD_BRANDS], m),
    ).astype(np.int64)
    bin_prefixes: list[str] = []
    bin_off = []
    for _, _, prefixes in CARD_BRANDS:
        bin_off.append(len(bin_prefixes))
        bin_prefixes.extend(prefixes)
    n_pref = np.array([len(b[2]) for b in CARD_BRANDS])[brand]
    bin_pick = np.array(bin_off)[brand] + (rng.random(m) * n_pref).astype(np.int64)
    bin_prefix = pick(bin_prefixes, bin_pick)
    card_bin = bin_prefix + digit_strings(rng, 6 - bin_prefix.str.len_chars().to_numpy(), m)

    # ---- statuses and their times
    status = weighted_choice(rng, [p for _, p in FINANCIAL], m).astype(np.int64)
    status = np.where(pos & np.isin(status, [PENDING, AUTHORIZED]), PAID, status)
    pay_delay = np.where(
        method == BANK, rng.integers(6 * 3600, 3 * 86_400, m), rng.integers(2, 90, m)
    )
    paid_at = created + pay_delay
    captured = [PAID, PARTIALLY_REFUNDED, REFUNDED]
    status = np.where(np.isin(status, captured) & (paid_at > plan.as_of), PENDING, status)
    paid = np.isin(status, captured)
    paid_at = np.where(paid, paid_at, -1)
    refunded = np.isin(status, [PARTIALLY_REFUNDED, REFUNDED])
    refunded_at = np.where(
        refunded, clamp_after(created, rng.integers(86_400, 20 * 86_400, m), plan.as_of), -1
    )
    refund_share = rng.uniform(0.1, 0.6, m)
    refunded_amount = np.where(
        status == REFUNDED,
        total,
        np.where(status == PARTIALLY_REFUNDED, np.maximum(np.floor(total * refund_share), 1), -1),
    ).astype(np.int64)
    voided = status == VOIDED
    cancelled = voided | ((status == REFUNDED) & (rng.random(m) < 0.5))
    cancelled_at = np.where(
        voided,
        clamp_after(created, rng.integers(600, 2 * 86_400, m), plan.as_of),
        np.where(cancelled, refunded_at, -1),
    )

    ship_delay = (rng.lognormal(np.log(20 * 3600), 0.6, m)).astype(np.int64) + 3600
    international = (country == COUNTRY_INDEX["JP"]) | (
        (country == COUNTRY_INDEX["CA"]) & (rng.random(m) < 0.5)
    )
    transit_days = np.where(express, rng.uniform(0.8, 2.5, m), rng.uniform(1.5, 6.0, m))
    transit_days = np.where(international, transit_days + 3, transit_days)
    shipped_at = created + ship_delay
    # a bank transfer can clear after the usual dispatch time: the parcel leaves after it
    late_payment = paid_at > shipped_at
    shipped_at = np.where(late_payment, paid_at + ship_delay, shipped_at)
    delivered_at = shipped_at + (transit_days * 86_400).astype(np.int64)
    shippable = needs_shipping & ~cancelled & paid
    shipped = shippable & (shipped_at <= plan.as_of)
    delivered = shipped & (delivered_at <= plan.as_of)
    partial = shipped & ~delivered & (n_lines > 1) & (rng.random(m) < 0.15)
    handed_over = (pos | (~needs_shipping & paid)) & ~cancelled  # sold over the counter, digital
    fulfillment = np.where(
        handed_over | (shipped & ~delivered & ~partial),
        FULFILLED,
        np.where(delivered, DELIVERED, np.where(partial, PARTIAL, UNFULFILLED)),
    )
    shipped_at = np.where(shipped, shipped_at, -1)
    delivered_at = np.where(delivered, delivered_at, -1)
    carrier_pick = np.zeros(m, dtype=np.int64)
    for ci, c in enumerate(COUNTRIES):
        here = np.flatnonzero(country == ci)
        names = [CARRIER_NAMES.index(name) for name, _ in c.carriers]
        carrier_pick[here] = np.array(names)[
            weighted_choice(rng, [w for _, w in c.carriers], len(here))
        ]
    tracking_digits = np.array([CARRIERS[c][1] for c in CARRIER_NAMES])[carrier_pick]
    tracking = (
        pick([CARRIERS[c][0] for c in CARRIER_NAMES], carrier_pick)
        + digit_strings(rng, tracking_digits, m)
        + pick([CARRIERS[c][2] for c in CARRIER_NAMES], carrier_pick)
    )
    promise_days = np.where(express, 2, 5) + np.where(international, 4, 0)
    promised = ~pos & needs_shipping & (market | (rng.random(m) < 0.8))

    # ---- web details
    online = web | app
    same_ip = has_cust & (rng.random(m) < 0.65)
    travelling = np.zeros(m, dtype=bool)
    if risk is not None:  # fraud from the account's address; a traveller's from abroad
        travelling = has_cust & risk.has(IP_ABROAD) & ~risk.has(FRAUD)
        same_ip = (same_ip | (has_cust & risk.has(FRAUD))) & ~travelling
    same_ua = has_cust & (rng.random(m) < 0.9)
    note_pick = rng.integers(0, len(NOTES), m)
    has_note = ~pos & (rng.random(m) < 0.04)
    marketing = weighted_choice(rng, [w for _, w in MARKETING_SOURCES], m)
    email_variant = weighted_choice(rng, (0.82, 0.11, 0.03, 0.04), m)
    phone_style = np.where(
        rng.random(m) < 0.75, customers["phone_style"].to_numpy(), rng.integers(0, 4, m)
    )
    pos_email = rng.random(m) < opts.pos_email_share
    gift_recipient = ~pos & has_cust & (rng.random(m) < 0.05)
    recipient_columns = ["first", "last", "address1", "address2", "city", "province", "zip"]
    recipient_rows = rng.integers(0, plan.customers.height, m)
    recipient_country = plan.customers["country"].gather(recipient_rows)
    same_country = recipient_country.to_numpy() == customers["country"].to_numpy()
    gift_recipient &= same_country
    if risk is not None:  # delivered abroad (a gift to family, or a fraudster's drop)
        abroad = risk.has(SHIP_ABROAD) & has_cust & ~pos
        recipient_rows, abroad = risk.recipients_abroad(
            plan.customers["country"], customers["country"], recipient_rows, abroad
        )
        gift_recipient |= abroad
    recipient_pool = plan.customers.select(*recipient_columns, "country")[recipient_rows]
    ip_country = country if opts.local_ips else None

    orders = pl.DataFrame(
        {
            "_exp": exponent,
            "_seq": seq,
            "_has_cust": has_cust,
            "_pos": pos,
            "_online": online,
            "_app": app,
            "_registered": registered,
            "_show_email": pl.Series(~pos | pos_email),
            "_email_variant": email_variant,
            "_phone_style": phone_style,
            "_gift": gift_recipient,
            "_needs_ship": needs_shipping,
            "customer_created_at": np.where(has_cust, customers["signed_up"].to_numpy(), -1),
            "channel": pick(CHANNELS, channel),
            "created_at": created,
            "currency": pick(CURRENCIES, currency),
            "subtotal": subtotal,
            "total_discounts": discounts,
            "discount_codes": discount_code_text,
            "shipping": shipping,
            "shipping_method": pick(SHIPPING_METHODS, shipping_method),
            "total_tax": total_tax,
            "total": total,
            # A captured amount other than the total (an injected payment mismatch); -1: the
            # total, once paid.
            "_paid_amount": np.full(m, -1, dtype=np.int64),
            "financial_status": pick(FINANCIAL_NAMES, status),
            "fulfillment_status": pick(FULFILLMENT_NAMES, fulfillment),
            "paid_at": paid_at,
            "cancelled_at": cancelled_at,
            "_promise": np.where(promised, promise_days, -1),
            "_note": pick(NOTES, np.where(has_note, note_pick, -1)),
            "_marketing": pick([s for s, _ in MARKETING_SOURCES], marketing),
            "_method": pick(PAYMENT_NAMES, method),
            "_card": card,
            "_saved_card": saved_card,
            "_brand": pick([b[0] for b in CARD_BRANDS], brand),
            "_last4": digit_strings(rng, 4, m),
            "_token": "tok_" + hex_strings(rng, m, 12),
            "_bin": card_bin,
            "_show_bin": rng.random(m) < 0.6,
            "refunded_amount": refunded_amount,
            "refunded_at": refunded_at,
            "carrier": pick(CARRIER_NAMES, carrier_pick),
            "tracking_number": tracking,
            "shipped_at": shipped_at,
            "delivered_at": delivered_at,
            "_same_ip": same_ip,
            "_ip": _ips(rng, m, ip_country, risk, travelling, country),
            "_same_ua": same_ua,
            "_web_ua": pick(WEB_USER_AGENTS, rng.integers(0, len(WEB_USER_AGENTS), m)),
            "_app_ua": pick(APP_USER_AGENTS, rng.integers(0, len(APP_USER_AGENTS), m)),
            "_web_device": hex_strings(rng, m, 16),
            "_store_name": pick([s.name for s in shops], np.maximum(store, 0)),
            "_store": store,
            "_country": pick([c.code for c in COUNTRIES], country),
            "_warehouse": pick([c.warehouse for c in COUNTRIES], country),
            "_r_first": recipient_pool["first"],
            "_r_last": recipient_pool["last"],
            "_r_address1": recipient_pool["address1"],
            "_r_address2": recipient_pool["address2"],
            "_r_city": recipient_pool["city"],
            "_r_province": recipient_pool["province"],
            "_r_zip": recipient_pool["zip"],
            "_r_country": recipient_pool["country"],
            "_signals": (
                np.zeros(m, dtype=np.int64)
                if plan.signals is None
                else plan.signals[lo:hi].astype(np.int64)
            ),
        }
    )
    orders = pl.concat([orders, customers.select(pl.all().name.prefix("c_"))], how="horizontal")

    # ---- one row per line
    line_frame = pl.DataFrame(
        {
            "line_number": pl.Series(line_number).cast(pl.String),
            "sku": pick(cat.skus, sku),
            "product_name": pick(cat.names, sku),
            "quantity": pl.Series(qty).cast(pl.String),
            "unit_price": price,
            "line_discount": line_disc,
            "line_total": net,
            "line_tax": line_tax,
            "vendor": pick(cat.vendors, sku),
            "requires_shipping": pick(("false", "true"), ships.astype(np.int64)),
            # digital gift cards bought online come from no location; at a till, the shop's
            "_digital": ~cat.requires_shipping[sku] & ~pos[order_of_line],
            "_exp": exponent[order_of_line],
        }
    )
    if plan.twin_of is not None and (plan.twin_of[lo:hi] >= 0).any():
        orders, line_frame = _copy_twins(
            orders, line_frame, plan.twin_of[lo:hi] - lo, starts, order_of_line, plan.as_of
        )
    pre = orders
    orders = orders.select(_order_columns(opts))
    line_frame = line_frame.with_columns(orders["_location"].gather(order_of_line))
    lines = line_frame.select(
        "line_number",
        "sku",
        "product_name",
        "quantity",
        money_text("unit_price"),
        money_text("line_discount"),
        money_text("line_total"),
        money_text("line_tax"),
        "vendor",
        pl.lit(None, pl.String).alias("product_category"),
        pl.lit(None, pl.String).alias("line_kind"),
        "requires_shipping",
        pl.when(~pl.col("_digital")).then(pl.col("_location")).alias("fulfillment_location"),
    )
    return Chunk(
        orders=orders.drop("_location"),
        lines=lines,
        order_of_line=order_of_line,
        first_line=line_number == 1,
        repeat_order_fields=opts.repeat_order_fields,
        created=pre["created_at"].to_numpy(),
        pre=pre,
        opts=opts,
    )


_EVENT_TIMES = ("paid_at", "cancelled_at", "refunded_at", "shipped_at", "delivered_at")


def _copy_twins(
    orders: pl.DataFrame,
    line_frame: pl.DataFrame,
    twin_of: np.ndarray,
    starts: np.ndarray,
    order_of_line: np.ndarray,
    as_of: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Orders planned as copies take their original's items, amounts and customer; their own
    id and creation time stay, and their events move by the same delay (when still before
    ``as_of``). ``twin_of`` holds chunk positions (the original is in the same chunk)."""
    m = orders.height
    source = np.where(twin_of >= 0, twin_of, np.arange(m))
    delay = orders["created_at"].to_numpy() - orders["created_at"].to_numpy()[source]
    copied = orders[source].with_columns(
        pl.Series("_seq", orders["_seq"]),
        pl.Series("created_at", orders["created_at"]),
        pl.Series("_delay", delay),
    )
    copied = copied.with_columns(
        pl.when((pl.col(t) >= 0) & (pl.col(t) + pl.col("_delay") < as_of))
        .then(pl.col(t) + pl.col("_delay"))
        .otherwise(pl.col(t))
        .alias(t)
        for t in _EVENT_TIMES
    ).drop("_delay")
    line_in_order = np.arange(order_of_line.size) - starts[order_of_line]
    line_source = starts[source[order_of_line]] + line_in_order
    return copied, line_frame[line_source]


def _local_days(created: np.ndarray, tz: str, first_day: date) -> np.ndarray:
    """Day index (0 = ``first_day``) of each time in the time zone ``tz``."""
    days = (
        pl.Series(created * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(tz)
        .dt.date()
        .cast(pl.Int64)
        .to_numpy()
    )
    return days - (first_day - date(1970, 1, 1)).days


@dataclass(frozen=True, eq=False)
class _Promotions:
    """What the merchant's promotions and spike do to one chunk of orders.

    Every draw comes from its own generator (``(seed, 2, chunk number)``), so a writer without
    promotions draws exactly what it always drew."""

    demand: Demand
    catalog: Catalog
    day: np.ndarray  # per order
    online: np.ndarray  # per order: web, app or marketplace
    order_of_line: np.ndarray
    rng: np.random.Generator

    @classmethod
    def of(
        cls,
        opts: RenderOptions,
        created: np.ndarray,
        channel: np.ndarray,
        order_of_line: np.ndarray,
        chunk_no: int,
    ) -> _Promotions | None:
        if opts.demand is None:
            return None
        return cls(
            demand=opts.demand,
            catalog=opts.catalog,
            day=_local_days(created, opts.calendar_tz, opts.demand.first_day),
            online=channel != POS,
            order_of_line=order_of_line,
            rng=np.random.default_rng([opts.seed, 2, chunk_no]),
        )

    def _during(self, start: date, end: date) -> np.ndarray:
        first = self.demand.first_day
        return (self.day >= (start - first).days) & (self.day <= (end - first).days)

    def spike_skus(self, sku: np.ndarray) -> np.ndarray:
        """Lines of online orders during the spike sell its category more often."""
        spike = self.demand.spike
        if spike is None or spike.category is None:
            return sku
        cat = self.catalog
        members = np.flatnonzero(np.asarray(cat.categories) == spike.category)
        hit = (self._during(spike.start, spike.end) & self.online)[self.order_of_line]
        hit &= self.rng.random(sku.size) < spike.category_share
        if not members.size or not hit.any():
            return sku
        weights = cat.popularity[members] / cat.popularity[members].sum()
        out = sku.copy()
        out[hit] = members[self.rng.choice(members.size, size=int(hit.sum()), p=weights)]
        return out

    def price_cuts(self, sku: np.ndarray, line_pct: np.ndarray) -> np.ndarray:
        """Lines sold during a price cut get at least its percentage off (any channel)."""
        categories = np.asarray(self.catalog.categories)[sku]
        out = line_pct
        for promo in self.demand.promotions:
            if promo.code is not None:
                continue
            on = self._during(promo.start, promo.end)[self.order_of_line]
            if promo.category is not None:
                on &= categories == promo.category
            out = np.where(on, np.maximum(out, promo.percent), out)
        return out

    def codes(self, typed_online: np.ndarray, pct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Web and app orders in a code's window type it (one code per order, the first
        promotion wins); returns the promotion index per order (-1: none) and the order
        discount percentages."""
        which = np.full(self.day.size, -1, dtype=np.int64)
        draw = self.rng.random(self.day.size)
        out = pct
        for index, promo in enumerate(self.demand.promotions):
            if promo.code is None:
                continue
            uses = (
                typed_online
                & self._during(promo.start, promo.end)
                & (which < 0)
                & (draw < promo.redemption)
            )
            which = np.where(uses, index, which)
            out = np.where(uses, promo.percent, out)
        return which, out

    def code_text(self, which: np.ndarray, free_ship: np.ndarray, standing: pl.Series) -> pl.Series:
        """``discount_codes`` with promotion codes in place of the standing ones."""
        if not (which >= 0).any():
            return standing
        promotions = self.demand.promotions
        names = [p.code or "" for p in promotions]
        text = pick(names, which) + pl.Series(np.where(free_ship, ";FREESHIP", ""))
        return text.zip_with(pl.Series(which >= 0), standing)


def _ips(
    rng: np.random.Generator,
    m: int,
    countries: np.ndarray | None,
    risk: _Risk | None,
    travelling: np.ndarray,
    country: np.ndarray,
) -> pl.Series:
    """Each order's IP address when it is not the customer's usual one; a traveller's is
    abroad."""
    ips = ipv4_strings(rng, m, countries)
    if risk is None or not travelling.any():
        return ips
    return risk.foreign_ips(ips, travelling, country)


@functools.cache
def _dear_goods(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    """SKUs a fraudster buys: the dearest sixth of the goods that ship, and gift cards of 50
    and more (resold at once)."""
    ships = catalog.requires_shipping
    cents = catalog.usd_cents
    threshold = np.quantile(cents[ships], 0.85) if ships.any() else np.inf
    dear = np.flatnonzero(ships & (cents >= threshold))
    cards = np.flatnonzero(~ships & (cents >= 5000))
    return (dear if dear.size else np.arange(len(cents))), cards


@dataclass(frozen=True, eq=False)
class _Risk:
    """What the fraud signals (:mod:`pipelines.generator.signals`) of a chunk's orders
    change. Every draw comes from its own generator (``(seed, 3, chunk number)``), so a
    chunk without signals draws exactly what it always drew."""

    signals: np.ndarray
    """Per order of the chunk."""
    catalog: Catalog
    rng: np.random.Generator

    @classmethod
    def of(cls, plan: Plan, opts: RenderOptions, lo: int, hi: int, chunk_no: int) -> _Risk | None:
        if plan.signals is None or not (plan.signals[lo:hi] & RENDERED).any():
            return None
        return cls(
            signals=plan.signals[lo:hi].astype(np.int64),
            catalog=opts.catalog,
            rng=np.random.default_rng([opts.seed, 3, chunk_no]),
        )

    def has(self, bit: int) -> np.ndarray:
        return (self.signals & bit) != 0

    def high_value_lines(
        self, sku: np.ndarray, qty: np.ndarray, order_of_line: np.ndarray, line_number: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Orders with :data:`HIGH_VALUE` buy dear goods (their first line ships), one to
        three at a time, and gift cards, one to four at a time."""
        lines = np.flatnonzero(self.has(HIGH_VALUE)[order_of_line])
        if not lines.size:
            return sku, qty
        dear, cards = _dear_goods(self.catalog)
        n = lines.size
        card = (line_number[lines] > 1) & (self.rng.random(n) < 0.3) & (cards.size > 0)
        goods = dear[self.rng.integers(0, dear.size, n)]
        gift = cards[self.rng.integers(0, cards.size, n)] if cards.size else goods
        units = weighted_choice(self.rng, (0.6, 0.3, 0.1), n).astype(np.int64) + 1
        sku, qty = sku.copy(), qty.copy()
        sku[lines] = np.where(card, gift, goods)
        qty[lines] = np.where(card, self.rng.integers(1, 5, n), units)
        return sku, qty

    def recipients_abroad(
        self,
        customer_country: pl.Series,
        own_country: pl.Series,
        rows: np.ndarray,
        abroad: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Recipients (rows of the customers table) in another country than the buyer for the
        orders ``abroad``; an order for which eight tries find none stays at home."""
        at = np.flatnonzero(abroad)
        if not at.size:
            return rows, abroad
        tries = self.rng.integers(0, customer_country.len(), (at.size, 8))
        drawn = customer_country.gather(tries.ravel()).to_numpy().reshape(tries.shape)
        foreign = drawn != own_country.gather(at).to_numpy()[:, None]
        found = foreign.any(axis=1)
        first = foreign.argmax(axis=1)
        rows, abroad = rows.copy(), abroad.copy()
        rows[at[found]] = tries[np.flatnonzero(found), first[found]]
        abroad[at[~found]] = False
        return rows, abroad

    def foreign_ips(self, ips: pl.Series, travelling: np.ndarray, country: np.ndarray) -> pl.Series:
        """Addresses abroad for the orders ``travelling``: mostly another customer country,
        a fifth of them a country of no customer."""
        rows = np.flatnonzero(travelling)
        k = rows.size
        home = CUSTOMER_IP_COUNTRIES
        other = (country[rows] + self.rng.integers(1, home, k)) % home
        far = home + self.rng.integers(0, len(IP_COUNTRIES) - home, k)
        where = np.where(self.rng.random(k) < 0.8, other, far)
        return ips.scatter(rows, ipv4_strings(self.rng, k, where))


_PLAIN_COLUMNS = frozenset(
    {
        "source_order_id", "order_number", "channel", "created_at", "currency", "subtotal",
        "total_discounts", "discount_codes", "shipping", "shipping_method", "total_tax",
        "taxes_included", "total", "paid_amount", "financial_status", "fulfillment_status",
        "paid_at", "cancelled_at", "promised_delivery_date", "customer_id", "customer_email",
        "customer_phone", "customer_created_at", "billing_country", "shipping_country",
        "shipping_phone", "client_ip", "device_id", "payment_method", "payment_token",
        "card_brand", "card_last4", "card_bin", "refunded_amount", "refunded_at", "carrier",
        "tracking_number", "shipped_at", "delivered_at", "line_number", "sku", "quantity",
        "unit_price", "line_discount", "line_total", "line_tax", "requires_shipping",
    }
)  # fmt: skip
"""Columns the writer fills from fixed formats (digits, codes, ISO text): never quoted."""


def _csv_field(name: str) -> pl.Expr:
    """A text column as CSV fields: quoted when it holds a comma, a quote or a line break."""
    c = pl.col(name)
    if name in _PLAIN_COLUMNS:
        return c.fill_null("")
    quoted = '"' + c.str.replace_all('"', '""', literal=True) + '"'
    return pl.when(c.str.contains(r'[,"\r\n]')).then(quoted).otherwise(c).fill_null("")


def csv_record(names: Sequence[str]) -> pl.Expr:
    return pl.concat_str([_csv_field(n) for n in names], separator=",")


@dataclass(frozen=True, eq=False)
class Chunk:
    """Orders (one row each) and their lines, as text columns of the generic format.

    ``created`` (unix seconds per order) and ``pre`` (the orders before rendering: numbers,
    with customer columns) stay aligned with ``orders``; an injector that adds or drops
    orders must keep them so (:meth:`take` and :meth:`snapshot` rely on them).
    """

    orders: pl.DataFrame
    lines: pl.DataFrame
    order_of_line: np.ndarray
    first_line: np.ndarray
    repeat_order_fields: bool
    created: np.ndarray | None = None
    pre: pl.DataFrame | None = None
    opts: RenderOptions | None = None

    @property
    def n_orders(self) -> int:
        return self.orders.height

    @property
    def n_lines(self) -> int:
        return int(self.order_of_line.size)

    def line_range(self, lo: int, hi: int) -> tuple[int, int]:
        """Positions of the first line of order ``lo`` and past the last line of ``hi - 1``."""
        a, b = np.searchsorted(self.order_of_line, [lo, hi], side="left")
        return int(a), int(b)

    def take(self, lo: int, hi: int) -> Chunk:
        """Orders ``lo`` to ``hi - 1`` and their lines."""
        a, b = self.line_range(lo, hi)
        return Chunk(
            orders=self.orders.slice(lo, hi - lo),
            lines=self.lines.slice(a, b - a),
            order_of_line=self.order_of_line[a:b] - lo,
            first_line=self.first_line[a:b],
            repeat_order_fields=self.repeat_order_fields,
            created=None if self.created is None else self.created[lo:hi],
            pre=None if self.pre is None else self.pre.slice(lo, hi - lo),
            opts=self.opts,
        )

    def snapshot(self, cutoff: int) -> Chunk:
        """The same orders as an export taken at ``cutoff`` (unix seconds) shows them: events
        after it have not happened yet (not paid, shipped, delivered, refunded, cancelled).
        Order fields an injector changed in the text keep their changed value."""
        if self.pre is None or self.opts is None:
            raise ValueError("this chunk keeps no numbers to re-render")
        pre = status_as_of(self.pre, cutoff)
        earlier = pre.select(_order_columns(self.opts)).drop("_location")
        # Text an injector changed (it differs from what the numbers render) stays changed.
        rendered = self.pre.select(_order_columns(self.opts)).drop("_location")
        earlier = earlier.with_columns(
            earlier[name].zip_with(self.orders[name].eq_missing(rendered[name]), self.orders[name])
            for name in earlier.columns
        )
        return Chunk(
            orders=earlier,
            lines=self.lines,
            order_of_line=self.order_of_line,
            first_line=self.first_line,
            repeat_order_fields=self.repeat_order_fields,
            created=self.created,
            pre=pre,
            opts=self.opts,
        )

    def record_ids(self) -> tuple[pl.Series, np.ndarray]:
        """``source_order_id`` and ``line_number`` of every line, in record order."""
        ids = self.orders["source_order_id"].gather(self.order_of_line)
        return ids, self.lines["line_number"].cast(pl.Int64).to_numpy()

    def frame(self) -> pl.DataFrame:
        """One row per line, every column of the format, in the contract's order."""
        order_part = self.orders[self.order_of_line]
        if not self.repeat_order_fields:
            first = pl.Series(self.first_line)
            order_part = order_part.with_columns(
                pl.when(first).then(pl.col(c)).alias(c)
                for c in _ORDER_FIELD_NAMES
                if c not in _ALWAYS_ON_LINES
            )
        both = pl.concat([order_part, self.lines], how="horizontal")
        return both.select(GENERIC_FIELD_NAMES)

    def csv_records(self, columns: Sequence[str] | None = None) -> pl.Series:
        """One CSV record per line (no line terminator), fields in the contract's order (or
        in the order of ``columns``, a permutation of it).

        Order-level fields are rendered once per order, then repeated: much cheaper than
        gathering every order column onto every line.
        """
        if columns is not None and tuple(columns) != GENERIC_FIELD_NAMES:
            return self.frame().select(csv_record(columns).alias("r"))["r"]
        order_text = self.orders.select(csv_record(_ORDER_FIELD_NAMES).alias("o"))["o"]
        per_line = order_text.gather(self.order_of_line)
        if not self.repeat_order_fields:
            blanks = "," * (len(_ORDER_FIELD_NAMES) - len(_ALWAYS_ON_LINES))
            ids_only = self.orders.select((csv_record(_ALWAYS_ON_LINES) + blanks).alias("o"))[
                "o"
            ].gather(self.order_of_line)
            per_line = per_line.zip_with(pl.Series(self.first_line), ids_only)
        line_names = [f.name for f in GENERIC_LINE_FIELDS]
        line_text = self.lines.select(csv_record(line_names).alias("l"))["l"]
        return per_line + "," + line_text

    def physical_lines(self) -> int:
        """Lines this chunk takes in a CSV file (a multi-line note adds its line breaks)."""
        breaks = self.orders["note"].str.count_matches("\n").fill_null(0).to_numpy()
        shown = breaks[self.order_of_line]
        if not self.repeat_order_fields:
            shown = np.where(self.first_line, shown, 0)
        return len(self.order_of_line) + int(shown.sum())


def status_as_of(pre: pl.DataFrame, cutoff: int) -> pl.DataFrame:
    """Orders (numbers, before rendering) as they stood at ``cutoff``: later events undone,
    statuses stepped back (refunded -> paid, paid -> pending, voided -> authorized,
    delivered -> fulfilled (in transit), shipped -> unfulfilled)."""
    c = pl.col
    later = {t: (c(t) >= 0) & (c(t) > cutoff) for t in _EVENT_TIMES}
    financial = c("financial_status")
    fulfillment = c("fulfillment_status")
    return pre.with_columns(
        pl.when(financial.is_in(["refunded", "partially_refunded"]) & later["refunded_at"])
        .then(pl.when(later["paid_at"]).then(pl.lit("pending")).otherwise(pl.lit("paid")))
        .when((financial == "voided") & later["cancelled_at"])
        .then(pl.lit("authorized"))
        .when((financial == "paid") & later["paid_at"])
        .then(pl.lit("pending"))
        .otherwise(financial)
        .alias("financial_status"),
        pl.when(later["shipped_at"])
        .then(pl.lit("unfulfilled"))
        .when((fulfillment == "delivered") & later["delivered_at"])
        .then(pl.lit("fulfilled"))
        .otherwise(fulfillment)
        .alias("fulfillment_status"),
        pl.when(later["refunded_at"])
        .then(pl.lit(-1, pl.Int64))
        .otherwise(c("refunded_amount"))
        .alias("refunded_amount"),
        *(pl.when(later[t]).then(pl.lit(-1, pl.Int64)).otherwise(c(t)).alias(t)
          for t in _EVENT_TIMES),
    )  # fmt: skip


def _order_columns(opts: RenderOptions) -> list[pl.Expr]:
    tz = opts.tz
    c = pl.col

    def timestamp_text_local(col: str) -> pl.Expr:
        """Times in the file's time zone; with shop clocks, till orders in their shop's."""
        text = timestamp_text(col, tz)
        if not opts.shop_clocks:
            return text
        for index, shop in enumerate(opts.pos_stores):
            if shop.timezone and shop.timezone != tz:
                text = (
                    pl.when(c("_pos") & (c("_store") == index))
                    .then(timestamp_text(col, shop.timezone))
                    .otherwise(text)
                )
        return text.alias(col)

    has_cust, pos, online = c("_has_cust"), c("_pos"), c("_online")
    email = c("c_email")
    domain = email.str.extract(r"@(.*)$", 1)
    email_out = (
        pl.when(~c("_registered") | ~c("_show_email"))
        .then(pl.lit(None, pl.String))
        .when(c("_email_variant") == 1)
        .then(email.str.slice(0, 1).str.to_uppercase() + email.str.slice(1))
        .when(c("_email_variant") == 2)
        .then(email.str.to_uppercase())
        .when(c("_email_variant") == 3)
        .then(email.str.extract(r"^(.*@)", 1) + domain.str.to_titlecase())
        .otherwise(email)
    )
    nsn, dial, style = c("c_nsn"), c("c_dial"), c("_phone_style")
    spaced = nsn.str.slice(0, 3) + " " + nsn.str.slice(3, 3) + " " + nsn.str.slice(6)
    phone = (
        pl.when(~has_cust)
        .then(pl.lit(None, pl.String))
        .when(style == 0)
        .then("+" + dial + nsn)
        .when(style == 1)
        .then("+" + dial + " " + spaced)
        .when(c("c_nanp") & (style == 2))
        .then("(" + nsn.str.slice(0, 3) + ") " + nsn.str.slice(3, 3) + "-" + nsn.str.slice(6))
        .when(c("c_nanp"))
        .then(nsn.str.slice(0, 3) + "-" + nsn.str.slice(3, 3) + "-" + nsn.str.slice(6))
        .when(style == 2)
        .then("0" + nsn.str.slice(0, 3) + " " + nsn.str.slice(3))
        .otherwise("0" + nsn)
    )
    jp = c("c_country") == "JP"
    full_name = (
        pl.when(jp)
        .then(c("c_last") + " " + c("c_first"))
        .otherwise(c("c_first") + " " + c("c_last"))
    )
    recipient = (
        pl.when(jp)
        .then(c("_r_last") + " " + c("_r_first"))
        .otherwise(c("_r_first") + " " + c("_r_last"))
    )
    addressed = has_cust & ~pos  # POS orders carry no addresses
    gift = c("_gift")

    def billing(col: str) -> pl.Expr:
        return pl.when(addressed).then(c(f"c_{col}"))

    def shipping(col: str) -> pl.Expr:
        own = c(f"c_{col}")
        return pl.when(addressed & c("_needs_ship")).then(
            pl.when(gift).then(c(f"_r_{col}")).otherwise(own)
        )

    card = c("_card")
    online_ua = pl.when(c("_app")).then(c("c_app_ua")).otherwise(c("c_web_ua"))
    prefix = opts.order_id_prefix
    created = c("created_at")
    promised = (
        (created * 1_000_000).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz).dt.date()
        + pl.duration(days=c("_promise"))
    ).dt.strftime("%Y-%m-%d")
    return [
        (pl.lit(prefix) + (c("_seq") + opts.order_id_base).cast(pl.String)).alias(
            "source_order_id"
        ),
        ("#" + (c("_seq") + opts.first_order_number).cast(pl.String)).alias("order_number"),
        pl.lit(opts.source_label).alias("store"),
        # Fields of other sources' exports the generic generator leaves blank.
        pl.lit(None, pl.String).alias("source_channel"),
        pl.lit(None, pl.String).alias("order_status"),
        pl.lit(None, pl.String).alias("source_risk_level"),
        c("channel"),
        timestamp_text_local("created_at"),
        c("currency"),
        money_text("subtotal"),
        money_text("total_discounts"),
        c("discount_codes"),
        money_text("shipping"),
        c("shipping_method"),
        money_text("total_tax"),
        pl.lit("false").alias("taxes_included"),
        money_text("total"),
        money_text(
            "paid_amount",
            pl.when(c("paid_at") < 0)
            .then(-1)
            .when(c("_paid_amount") >= 0)
            .then(c("_paid_amount"))
            .otherwise(c("total")),
        ),
        c("financial_status"),
        c("fulfillment_status"),
        timestamp_text_local("paid_at"),
        timestamp_text_local("cancelled_at"),
        pl.when(c("_promise") >= 0).then(promised).alias("promised_delivery_date"),
        c("_note").alias("note"),
        (
            c("c_customer_id")
            if opts.anonymous_customer_id
            else pl.when(has_cust).then(c("c_customer_id"))
        ).alias("customer_id"),
        email_out.alias("customer_email"),
        phone.alias("customer_phone"),
        pl.when(has_cust).then(c("c_first")).alias("customer_first_name"),
        pl.when(has_cust).then(c("c_last")).alias("customer_last_name"),
        timestamp_text_local("customer_created_at"),
        pl.when(addressed).then(full_name).alias("billing_name"),
        billing("address1").alias("billing_address1"),
        billing("address2").alias("billing_address2"),
        billing("city").alias("billing_city"),
        billing("province").alias("billing_province"),
        billing("zip").alias("billing_zip"),
        pl.when(pos)
        .then(c("_country"))
        .when(addressed)
        .then(c("c_country"))
        .alias("billing_country"),
        pl.when(addressed & c("_needs_ship"))
        .then(pl.when(gift).then(recipient).otherwise(full_name))
        .alias("shipping_name"),
        shipping("address1").alias("shipping_address1"),
        shipping("address2").alias("shipping_address2"),
        shipping("city").alias("shipping_city"),
        shipping("province").alias("shipping_province"),
        shipping("zip").alias("shipping_zip"),
        pl.when(addressed & c("_needs_ship"))
        .then(pl.when(gift).then(c("_r_country")).otherwise(c("c_country")))
        .alias("shipping_country"),
        pl.when(addressed & c("_needs_ship") & ~gift).then(phone).alias("shipping_phone"),
        pl.when(online)
        .then(pl.when(c("_same_ip")).then(c("c_ip")).otherwise(c("_ip")))
        .alias("client_ip"),
        pl.when(online)
        .then(
            pl.when(c("_same_ua"))
            .then(online_ua)
            .otherwise(pl.when(c("_app")).then(c("_app_ua")).otherwise(c("_web_ua")))
        )
        .alias("user_agent"),
        pl.when(online & has_cust)
        .then(pl.when(c("_app")).then(c("c_app_device")).otherwise(c("c_web_device")))
        .when(online)
        .then(c("_web_device"))
        .alias("device_id"),
        pl.when(online)
        .then(pl.when(c("_marketing") != "").then(c("_marketing")))
        .alias("marketing_source"),
        c("_method").alias("payment_method"),
        pl.when(card)
        .then(pl.when(c("_saved_card")).then(c("c_card_token")).otherwise(c("_token")))
        .alias("payment_token"),
        pl.when(card).then(c("_brand")).alias("card_brand"),
        pl.when(card)
        .then(pl.when(c("_saved_card")).then(c("c_card_last4")).otherwise(c("_last4")))
        .alias("card_last4"),
        pl.when(card & c("_show_bin")).then(c("_bin")).alias("card_bin"),
        money_text("refunded_amount"),
        timestamp_text_local("refunded_at"),
        pl.when(c("shipped_at") >= 0).then(c("carrier")).alias("carrier"),
        pl.when(c("shipped_at") >= 0).then(c("tracking_number")).alias("tracking_number"),
        timestamp_text_local("shipped_at"),
        timestamp_text_local("delivered_at"),
        pl.when(pos).then(c("_store_name")).otherwise(c("_warehouse")).alias("_location"),
    ]
