"""Fraud injectors: fraudulent orders that mix some of the signals fraud teams look for, and
legitimate orders that carry the same signals now and then, so that no single rule sorts
them and a model has something to learn.

Grain: one order. Two injectors, both on by default:

``fraud`` (rate: share of all orders that are fraudulent, default 0.01) adds the orders of
fraud rings to the plan: each ring places one to eight web or app orders, alone or through
several new accounts, and draws its own mix of signals:

* ``new_account_fast``: the account is created 3-55 s before its first order (else minutes
  before, like a real new customer, or weeks before: a sleeper account);
* ``shared_device`` / ``shared_ip``: a ring's accounts use one device and/or one IP address;
* ``ip_country_mismatch``: the ring connects from another country than the stolen card's
  billing address (mostly a country where no customer lives, else a proxy in one);
* ``billing_shipping_mismatch``: the goods go to a drop address in another country;
* ``high_value_goods``: the dearest goods that ship and gift cards, several at a time (the
  catalogue sells no electronics: these are what a fraudster resells);
* ``rushed_shipping``: express delivery;
* ``disposable_email``: a throw-away address (else free webmail);
* ``numeric_email``: a run of four digits in the address's name (``jsmith4821@``);
* ``velocity_burst``: the ring's orders come minutes apart, on one account, card, device or
  IP address.

Every fraudulent order has at least one signal and never all of them; it pays by card, with
the account's saved card (a ring's accounts may share one card), from the account's IP.

``fraud_lookalikes`` (rate: share of legitimate orders given one signal, default 0.05) gives
legitimate orders the same signals at realistic shares: customers who sign up and buy within
a minute (first orders of new customers), households sharing a device and connection,
travellers and VPN users ordering from an IP abroad, gifts shipped to family abroad,
privacy-minded customers with a throw-away address, and addresses with a birth year in them.
(Express shipping, free webmail and dear orders are common among legitimate orders already.)

Ground truth: every line of a fraudulent order has ``fraud_label`` true and ``fraud_pattern``
= its signals joined by ``+`` (:func:`~pipelines.generator.signals.pattern_name`, e.g.
``new_account_fast+ip_country_mismatch+rushed_shipping``): the signals the injector gave it
that its rendered order shows (an order may show others by chance, such as express shipping,
which a sixth of all orders choose). Every line of a legitimate order given a signal has
``fraud_label`` false and that signal as pattern. An order shipped abroad also carries
``COUNTRY_MISMATCH``, the warning a correct validator reports for it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from orderlens.reasons import ReasonCode
from pipelines.generator.chunk import Chunk
from pipelines.generator.customers import make_customers
from pipelines.generator.injectors import (
    ChunkContext,
    Injector,
    PlanContext,
    RecordMark,
    register_injector,
)
from pipelines.generator.plan import Plan
from pipelines.generator.signals import (
    DISPOSABLE_EMAIL,
    FRAUD,
    HIGH_VALUE,
    IP_ABROAD,
    NEW_ACCOUNT_FAST,
    NUMERIC_EMAIL,
    RUSHED,
    SHARED_DEVICE,
    SHARED_IP,
    SHIP_ABROAD,
    SIGNAL_NAMES,
    VELOCITY,
    pattern_name,
)
from pipelines.generator.vectors import digit_strings, ipv4_strings, pick, weighted_choice
from pipelines.generator.world import (
    APP,
    COUNTRY_INDEX,
    CUSTOMER_IP_COUNTRIES,
    DISPOSABLE_DOMAINS,
    FREE_WEBMAIL,
    IP_COUNTRIES,
    POS,
    WEB,
)

FRAUD_INJECTORS: tuple[str, ...] = ("fraud", "fraud_lookalikes")
"""The injectors of this module. They change values only, never a file's shape, so their
output can still be written as a Shopify CSV export or NDJSON (``--format shopify_*``); the
ground truth's ``source`` and ``source_order_id`` name the same orders there."""

RING_SIZES = (1, 2, 3, 4, 5, 6, 8)
RING_SIZE_WEIGHTS = (0.45, 0.2, 0.13, 0.08, 0.06, 0.05, 0.03)
"""Orders per fraud ring (mean about 2.3)."""

RING_SIGNALS: dict[int, float] = {
    NEW_ACCOUNT_FAST: 0.4,
    DISPOSABLE_EMAIL: 0.2,
    NUMERIC_EMAIL: 0.3,
    IP_ABROAD: 0.4,
    SHIP_ABROAD: 0.25,
    HIGH_VALUE: 0.45,
    RUSHED: 0.45,
}
"""Share of fraud rings showing each signal of their own choosing (the shared device and IP
and the burst follow from how a ring of several orders operates)."""

MAX_FRAUD_RATE = 0.5

LOOKALIKE_KINDS: dict[int, float] = {
    IP_ABROAD: 0.25,
    SHIP_ABROAD: 0.15,
    NEW_ACCOUNT_FAST: 0.15,
    SHARED_DEVICE: 0.1,
    DISPOSABLE_EMAIL: 0.05,
    NUMERIC_EMAIL: 0.2,
    VELOCITY: 0.1,
}
"""How the legitimate orders with a signal split between the signals."""

_ALL_SIGNALS = sum(bit for bit, _ in SIGNAL_NAMES)
_ONLINE = (WEB, APP)


# --------------------------------------------------------------------------------------------
# Fraud rings


@register_injector
class Fraud(Injector):
    """Fraud rings' orders, each with a mix of fraud signals (see the module).

    Rate: share of all orders that are fraudulent (at most 0.5); the orders are added.
    """

    name = "fraud"
    description = (
        "fraud rings: new accounts buying fast, shared devices and IPs, IP and shipping "
        "abroad, dear goods, express shipping, throw-away e-mails, bursts"
    )
    reason_codes = ()
    default_rate = 0.01
    fraud_pattern = "fraud"
    marks_added_orders = False

    def __init__(self, rate: float, seed: int, index: int) -> None:
        if rate > MAX_FRAUD_RATE:
            raise ValueError(f"{self.name}: rate {rate} is above {MAX_FRAUD_RATE:g}")
        super().__init__(rate, seed, index)

    def add_orders(self, plan: Plan, context: PlanContext) -> Plan:
        channels = [c for c in _ONLINE if c in context.clocks]
        span = plan.as_of - plan.window_start
        if self.rate <= 0 or not channels or plan.n_registered < 1 or span < 3600:
            return plan
        rng = self.rng
        n_fraud = int(rng.poisson(plan.n_orders * self.rate / (1 - self.rate)))
        if n_fraud == 0:
            return plan
        sizes = np.array(RING_SIZES)[weighted_choice(rng, RING_SIZE_WEIGHTS, n_fraud)]
        total = np.cumsum(sizes)
        n_rings = int(np.searchsorted(total, n_fraud) + 1)
        sizes = sizes[:n_rings].copy()
        sizes[-1] -= int(total[n_rings - 1] - n_fraud)
        rings = _Rings.draw(rng, sizes, channels, plan)
        accounts = rings.accounts(rng, plan)
        return plan.with_orders(
            created=rings.created,
            channel=rings.channel[rings.ring],
            customer=plan.customers.height + rings.account,
            lines=(weighted_choice(rng, (0.55, 0.3, 0.15), n_fraud) + 1).astype(np.int64),
            signals=rings.signals(rng),
            added_by=self.index,
            customers=accounts,
        )

    def alter_chunk(self, chunk: Chunk, context: ChunkContext) -> tuple[Chunk, list[RecordMark]]:
        return chunk, _signal_marks(self, chunk, fraud=True)


class _Rings:
    """Fraud rings (arrays per ring) and their orders (arrays per order, ring by ring, in
    time order within a ring)."""

    def __init__(self, sizes: np.ndarray) -> None:
        self.sizes = sizes
        self.n = sizes.size
        self.ring = np.repeat(np.arange(self.n), sizes)
        self.start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.position = np.arange(self.ring.size) - self.start[self.ring]
        self.created = np.zeros(0, dtype=np.int64)
        self.channel = np.zeros(0, dtype=np.int64)
        self.country = np.zeros(0, dtype=np.int64)
        self.flags: dict[int, np.ndarray] = {}
        self.many = np.zeros(0, dtype=bool)
        self.share_card = np.zeros(0, dtype=bool)
        self.account = np.zeros(0, dtype=np.int64)
        self.first_of_account = np.zeros(0, dtype=bool)

    @classmethod
    def draw(cls, rng: np.random.Generator, sizes: np.ndarray, channels: list[int],
             plan: Plan) -> _Rings:  # fmt: skip
        rings = cls(sizes)
        n, several = rings.n, sizes > 1
        rings.channel = np.array(channels)[
            weighted_choice(rng, [0.75 if c == WEB else 0.25 for c in channels], n)
        ].astype(np.int64)
        # The stolen cards' countries follow the customers'.
        victims = rng.integers(0, plan.n_registered, n)
        rings.country = (
            plan.customers["country"]
            .gather(victims)
            .replace_strict(COUNTRY_INDEX, return_dtype=pl.Int64)
            .to_numpy()
        )
        burst = several & (rng.random(n) < 0.5)
        rings.many = several & (rng.random(n) < 0.5)
        share_device = rings.many & (rng.random(n) < 0.7)
        share_ip = rings.many & ((rng.random(n) < 0.6) | ~share_device)
        rings.share_card = rings.many & (rng.random(n) < 0.5)
        rings.flags = {bit: rng.random(n) < p for bit, p in RING_SIGNALS.items()}
        rings.flags |= {SHARED_DEVICE: share_device, SHARED_IP: share_ip, VELOCITY: burst}

        # Times: a start anywhere in the window (fraud keeps no office hours), then orders
        # minutes apart in a burst, hours apart otherwise.
        span = plan.as_of - plan.window_start
        first = plan.window_start + rng.integers(0, max(span - 2 * 86_400, 3600), n)
        gap = np.where(
            burst[rings.ring],
            rng.integers(60, 900, rings.ring.size),
            rng.integers(3600, 48 * 3600, rings.ring.size),
        )
        gap[rings.position == 0] = 0
        elapsed = np.cumsum(gap)
        elapsed -= elapsed[rings.start][rings.ring]
        rings.created = np.minimum(first[rings.ring] + elapsed, plan.as_of - 1)

        # Accounts: one per order in a ring of many accounts, else one per ring.
        per_ring = np.where(rings.many, sizes, 1)
        account_start = np.concatenate([[0], np.cumsum(per_ring)[:-1]])
        rings.account = account_start[rings.ring] + np.where(
            rings.many[rings.ring], rings.position, 0
        )
        rings.first_of_account = rings.many[rings.ring] | (rings.position == 0)
        return rings

    def accounts(self, rng: np.random.Generator, plan: Plan) -> pl.DataFrame:
        """The rings' accounts as rows of the customers table (appended after its last)."""
        n_accounts = int(self.account.max()) + 1
        ring = np.zeros(n_accounts, dtype=np.int64)
        ring[self.account] = self.ring
        leader = self.account[self.start][ring]  # the first account of the ring
        first_order = np.zeros(n_accounts, dtype=np.int64)
        first = self.first_of_account
        first_order[self.account[first]] = self.created[first]

        fast = self.flags[NEW_ACCOUNT_FAST][ring]
        minutes = rng.random(n_accounts) < 0.5
        signed_up = first_order - np.where(
            fast,
            rng.integers(3, 56, n_accounts),
            np.where(
                minutes,
                rng.integers(60, 1_800, n_accounts),
                rng.integers(86_400, 700 * 86_400, n_accounts),
            ),
        )
        country = self.country[ring]
        rows = make_customers(
            rng, country, n_accounts, signed_up, valid_contacts=True, local_ips=True
        )

        # Where the ring connects from: abroad, mostly from a country of no customer.
        home = CUSTOMER_IP_COUNTRIES
        other = (self.country + rng.integers(1, home, self.n)) % home
        far = home + rng.integers(0, len(IP_COUNTRIES) - home, self.n)
        origin = np.where(rng.random(self.n) < 0.6, far, other)
        abroad = self.flags[IP_ABROAD][ring]
        ip = rows["ip"].zip_with(pl.Series(~abroad), ipv4_strings(rng, n_accounts, origin[ring]))

        def shared(column: pl.Series, flag: np.ndarray) -> pl.Series:
            """The ring leader's value where the ring shares it."""
            return column.zip_with(pl.Series(~flag[ring]), column.gather(leader))

        base = plan.customers.height
        return rows.with_columns(
            shared(ip, self.flags[SHARED_IP]).alias("ip"),
            shared(rows["web_device"], self.flags[SHARED_DEVICE]),
            shared(rows["app_device"], self.flags[SHARED_DEVICE]),
            *(shared(rows[c], self.share_card) for c in ("card_token", "card_brand", "card_last4")),
            ("C" + pl.Series(np.arange(n_accounts) + base + 1).cast(pl.String).str.zfill(7)).alias(
                "customer_id"
            ),
            _fraud_emails(
                rng,
                rows["email"],
                self.flags[DISPOSABLE_EMAIL][ring],
                self.flags[NUMERIC_EMAIL][ring],
                plan,
            ),
        )

    def signals(self, rng: np.random.Generator) -> np.ndarray:
        """Per order: FRAUD and the ring's signals (a fast sign-up only on an account's first
        order). An order left with no signal that every order shows buys dear goods; one
        with every signal ships normally."""
        bits = np.full(self.ring.size, FRAUD, dtype=np.int64)
        for bit, flag in self.flags.items():
            on = flag[self.ring]
            if bit == NEW_ACCOUNT_FAST:
                on &= self.first_of_account
            bits |= np.where(on, bit, 0)
        bare = (bits & _ALL_SIGNALS & ~(SHIP_ABROAD | RUSHED)) == 0
        bits |= np.where(bare, HIGH_VALUE, 0)
        every = (bits & _ALL_SIGNALS) == _ALL_SIGNALS
        return np.where(every, bits & ~RUSHED, bits)


def _fraud_emails(
    rng: np.random.Generator,
    usual: pl.Series,
    disposable: np.ndarray,
    numeric: np.ndarray,
    plan: Plan,
) -> pl.Series:
    """Fraudulent accounts' e-mails, made of the stolen name and four digits (``numeric``) or
    two, at a throw-away address provider (``disposable``) or free webmail; never another
    customer's address."""
    n = usual.len()
    name = usual.str.extract(r"^([^@]+)@", 1).str.replace_all(r"\d+", "")
    digits = digit_strings(rng, np.where(numeric, 4, 2), n)
    domain = pl.Series(
        np.where(
            disposable,
            pick(DISPOSABLE_DOMAINS, rng.integers(0, len(DISPOSABLE_DOMAINS), n)).to_numpy(),
            pick(FREE_WEBMAIL, rng.integers(0, len(FREE_WEBMAIL), n)).to_numpy(),
        )
    )
    email = name + digits + "@" + domain
    taken = email.is_in(plan.customers["email"].drop_nulls().implode()) | ~email.is_first_distinct()
    unique = name + digits + "." + pl.Series(np.arange(n)).cast(pl.String) + "@" + domain
    return email.zip_with(~taken, unique).alias("email")


# --------------------------------------------------------------------------------------------
# Legitimate orders that look risky


@register_injector
class FraudLookalikes(Injector):
    """Legitimate orders with one fraud signal each (see the module).

    Rate: share of legitimate orders given a signal, split by :data:`LOOKALIKE_KINDS`; a
    signal of an account (a fast sign-up, a shared device, a throw-away address) counts the
    orders that show it.
    """

    name = "fraud_lookalikes"
    description = (
        "legitimate orders with a fraud signal: sign-up and purchase within a minute, a "
        "household's shared device, a traveller's IP abroad, a gift shipped abroad, a "
        "throw-away e-mail"
    )
    reason_codes = ()
    default_rate = 0.05
    marks_added_orders = False

    def add_orders(self, plan: Plan, context: PlanContext) -> Plan:
        if self.rate <= 0 or plan.n_orders == 0:
            return plan
        rng = self.rng
        bits = np.zeros(plan.n_orders, np.int64) if plan.signals is None else plan.signals.copy()
        customer = plan.customer
        legit = (bits & FRAUD) == 0
        known = customer >= 0
        height = plan.customers.height
        fraudulent = np.zeros(height, dtype=bool)
        fraudulent[customer[~legit & known]] = True
        online = legit & known & np.isin(plan.channel, _ONLINE)
        target = {bit: self.rate * weight * int(legit.sum()) for bit, weight in
                  LOOKALIKE_KINDS.items()}  # fmt: skip

        # Orders from an address abroad, and gifts shipped abroad.
        for bit in (IP_ABROAD, SHIP_ABROAD):
            eligible = np.flatnonzero(online)
            share = min(1.0, target[bit] / max(eligible.size, 1))
            bits[eligible[rng.random(eligible.size) < share]] |= bit

        customers = plan.customers
        registered = customers["registered"].to_numpy() & ~fraudulent
        seen, first = np.unique(customer[known], return_index=True)
        first_order = np.full(height, -1, dtype=np.int64)
        first_order[seen] = np.flatnonzero(known)[first]

        # New customers who sign up and buy within a minute.
        signed_up = customers["signed_up"].to_numpy().copy()
        has_first = first_order >= 0
        first_at = np.where(has_first, plan.created[np.maximum(first_order, 0)], 0)
        new = registered & has_first & (signed_up >= plan.window_start - 3_600)
        new &= plan.channel[np.maximum(first_order, 0)] != POS
        new &= legit[np.maximum(first_order, 0)]
        fast = _take(rng, np.flatnonzero(new), np.ones(height, np.int64), target[NEW_ACCOUNT_FAST])
        signed_up[fast] = first_at[fast] - rng.integers(3, 60, fast.size)
        bits[first_order[fast]] |= NEW_ACCOUNT_FAST

        # Households: a customer on another's device and connection (same country).
        online_orders = np.bincount(customer[online], minlength=height)
        with_online = np.flatnonzero(registered & (online_orders > 0))
        moved = _take(rng, with_online, online_orders, target[SHARED_DEVICE])
        partner = _same_country_partner(rng, customers["country"], with_online, moved)
        shared = customers.select("web_device", "app_device", "ip")
        columns = {
            name: shared[name].scatter(moved, shared[name].gather(partner))
            for name in shared.columns
        }
        # Shared where the partner uses the same device: the computer, or the phone's app.
        for channel in _ONLINE:
            partner_uses = np.zeros(height, dtype=bool)
            partner_uses[customer[online & (plan.channel == channel)]] = True
            sharing = moved[partner_uses[partner]]
            here = online & (plan.channel == channel)
            bits[here & _member(customer, sharing, height)] |= SHARED_DEVICE

        # Throw-away addresses, and addresses with a birth year (shown on every order but a
        # till's).
        shown = legit & known & (plan.channel != POS)
        shown_orders = np.bincount(customer[shown], minlength=height)
        email = customers["email"]
        changed: list[np.ndarray] = []
        new_emails: list[pl.Series] = []
        for bit in (DISPOSABLE_EMAIL, NUMERIC_EMAIL):
            eligible = registered & (shown_orders > 0)
            for done in changed:
                eligible[done] = False
            chosen = _take(rng, np.flatnonzero(eligible), shown_orders, target[bit])
            local = email.gather(chosen).str.extract(r"^([^@]+)@", 1)
            domain = email.gather(chosen).str.extract(r"@(.+)$", 1)
            if bit == DISPOSABLE_EMAIL:
                domain = pick(
                    DISPOSABLE_DOMAINS, rng.integers(0, len(DISPOSABLE_DOMAINS), chosen.size)
                )
            else:
                year = pl.Series(rng.integers(1955, 2007, chosen.size)).cast(pl.String)
                local = local.str.replace_all(r"\d+", "") + year
            proposed = local + "@" + domain
            clash = proposed.is_in(email.implode()) | ~proposed.is_first_distinct()
            unique = local + "." + pl.Series(chosen).cast(pl.String) + "@" + domain
            new_emails.append(proposed.zip_with(~clash, unique))
            changed.append(chosen)
            bits[shown & _member(customer, chosen, height)] |= bit
        for chosen, new_email in zip(changed, new_emails, strict=True):
            email = email.scatter(chosen, new_email)

        customers = customers.with_columns(
            pl.Series("signed_up", signed_up),
            *(series.alias(name) for name, series in columns.items()),
            email,
        ).rechunk()  # every rendered chunk gathers rows of this table

        # Follow-up orders: a customer orders again minutes later (something forgotten), on
        # the same device and often the same card.
        eligible = np.flatnonzero(online & registered[np.maximum(customer, 0)])
        share = min(1.0, target[VELOCITY] / max(eligible.size, 1))
        first = eligible[rng.random(eligible.size) < share]
        later = plan.created[first] + rng.integers(120, 3_000, first.size)
        first, later = first[later < plan.as_of], later[later < plan.as_of]
        of_account = bits[first] & (SHARED_DEVICE | DISPOSABLE_EMAIL | NUMERIC_EMAIL)
        return replace(plan, customers=customers, signals=bits).with_orders(
            created=later,
            channel=plan.channel[first],
            customer=customer[first],
            lines=(weighted_choice(rng, (0.7, 0.3), first.size) + 1).astype(np.int64),
            signals=VELOCITY | of_account,
            added_by=self.index,
        )

    def alter_chunk(self, chunk: Chunk, context: ChunkContext) -> tuple[Chunk, list[RecordMark]]:
        return chunk, _signal_marks(self, chunk, fraud=False)


def _member(customer: np.ndarray, chosen: np.ndarray, height: int) -> np.ndarray:
    """Per order: its customer is one of ``chosen`` (rows of a customers table of
    ``height`` rows; -1, no customer, is never chosen)."""
    chosen_mask = np.zeros(height + 1, dtype=bool)
    chosen_mask[chosen] = True
    return chosen_mask[customer]  # -1 reads the extra last cell


def _take(
    rng: np.random.Generator, eligible: np.ndarray, orders: np.ndarray, target: float
) -> np.ndarray:
    """Customers drawn from ``eligible`` (in random order) until their ``orders`` reach
    ``target``; sorted."""
    shuffled = rng.permutation(eligible)
    reached = np.cumsum(orders[shuffled]) <= target
    return np.sort(shuffled[reached])


def _same_country_partner(
    rng: np.random.Generator, country: pl.Series, pool: np.ndarray, chosen: np.ndarray
) -> np.ndarray:
    """For each customer of ``chosen``, another customer of ``pool`` in the same country
    (itself when it is alone there)."""
    if not chosen.size:
        return chosen
    codes = country.gather(pool).to_numpy()
    order = np.argsort(codes, kind="stable")
    sorted_pool, sorted_codes = pool[order], codes[order]
    mine = country.gather(chosen).to_numpy()
    lo = np.searchsorted(sorted_codes, mine, side="left")
    hi = np.searchsorted(sorted_codes, mine, side="right")
    pick_at = lo + rng.integers(0, np.maximum(hi - lo, 1))
    partner = sorted_pool[np.minimum(pick_at, len(pool) - 1)]
    # Drawn itself: the next customer of the country (wrapping), when there is one.
    again = (partner == chosen) & (hi - lo > 1)
    step = lo + (pick_at - lo + 1) % np.maximum(hi - lo, 1)
    return np.where(again, sorted_pool[np.minimum(step, len(pool) - 1)], partner)


# --------------------------------------------------------------------------------------------
# Marks


def _signal_marks(injector: Injector, chunk: Chunk, *, fraud: bool) -> list[RecordMark]:
    """Marks on every line of the chunk's fraudulent orders (``fraud``) or of its legitimate
    orders with a signal, grouped by the signals the rendered order shows."""
    pre = chunk.pre
    if pre is None or "_signals" not in pre.columns or chunk.n_orders == 0:
        return []
    bits = pre["_signals"].to_numpy()
    mine = (bits & FRAUD) != 0 if fraud else ((bits & FRAUD) == 0) & (bits != 0)
    rows = np.flatnonzero(mine)
    if not rows.size:
        return []
    orders = chunk.orders.select("billing_country", "shipping_country", "shipping_method")[rows]
    times = pre.select("created_at", "customer_created_at")[rows]
    abroad = (orders["billing_country"] != orders["shipping_country"]).fill_null(False).to_numpy()
    rushed = orders["shipping_method"].is_in(["Express", "Expedited"]).fill_null(False).to_numpy()
    signed_up = times["customer_created_at"].to_numpy()
    signup = times["created_at"].to_numpy() - signed_up
    fast = (signed_up >= 0) & (signup >= 0) & (signup < 60)
    shown = np.zeros(chunk.n_orders, dtype=np.int64)
    shown[rows] = bits[rows] & _ALL_SIGNALS
    shown[rows] &= ~np.where(abroad, 0, SHIP_ABROAD) & ~np.where(rushed, 0, RUSHED)
    shown[rows] &= ~np.where(fast, 0, NEW_ACCOUNT_FAST)
    if not fraud:
        mine &= shown != 0
    marks = []
    for value in np.unique(shown[mine]).tolist():
        hit = mine & (shown == value)
        lines = np.flatnonzero(hit[chunk.order_of_line])
        codes = (ReasonCode.COUNTRY_MISMATCH.value,) if value & SHIP_ABROAD else None
        marks.append(RecordMark(lines, injector, codes, fraud, pattern_name(value)))
    return marks
