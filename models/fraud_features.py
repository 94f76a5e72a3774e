"""Fraud features of canonical orders, computed point in time.

Input grain: one row per order (:data:`ORDER_COLUMNS`; :func:`conform_orders` checks and
types it; optional columns may be absent). Output grain: one row per order, ``order_key``
first, in the input's row order (:func:`fraud_features`).

Point in time: the orders are put in one total order, ``(created_at, order_key)``; an order's
features use only the orders before it in that order (earlier, or at the same instant with a
smaller key) and never itself or anything after it, so a feature frame computed today gives
last month's orders the values they had when they were placed, and appending later orders
never changes an earlier order's features.

Missing signals (point-of-sale orders without IP, device or e-mail; guests without a customer
key; accounts without a sign-up date) give nulls, never errors; the model treats a null as
its own value.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from models.ip_country import ip_countries
from models.point_in_time import KeyGroups


@dataclass(frozen=True)
class OrderColumn:
    """One column of the canonical order frame the features read."""

    name: str
    dtype: pl.DataType
    description: str
    required: bool = False


UTC = pl.Datetime("us", "UTC")

ORDER_COLUMNS: tuple[OrderColumn, ...] = (
    OrderColumn("order_key", pl.String(), "Unique order key (stg_orders.order_key).", True),
    OrderColumn("created_at", UTC, "When the order was placed (tz-aware; naive = UTC).", True),
    OrderColumn("total", pl.Float64(), "Order value, ideally in the reporting currency.", True),
    OrderColumn("customer_key", pl.String(), "Customer key (null for guests)."),
    OrderColumn("account_created_at", UTC, "When the customer's account was created."),
    OrderColumn("channel", pl.String(), "online_store, marketplace, mobile_app, pos, other."),
    OrderColumn("billing_country", pl.String(), "Billing country, ISO 3166-1 alpha-2."),
    OrderColumn("shipping_country", pl.String(), "Shipping country, ISO 3166-1 alpha-2."),
    OrderColumn("client_ip", pl.String(), "Buyer's IP address (dotted IPv4 for a country)."),
    OrderColumn("device_id", pl.String(), "Buyer's device id."),
    OrderColumn("user_agent", pl.String(), "Buyer's browser user agent or browser name."),
    OrderColumn("email", pl.String(), "Customer e-mail, normalised (lower case)."),
    OrderColumn("shipping_method", pl.String(), "Shipping method or service level."),
    OrderColumn("payment_token", pl.String(), "Card or payment token (never a card number)."),
    OrderColumn("source_risk_level", pl.String(), "Selling system's verdict: low/medium/high."),
    OrderColumn("marketing_source", pl.String(), "Referrer or campaign that brought the buyer."),
    OrderColumn("units", pl.Float64(), "Units of product ordered (product lines only)."),
    OrderColumn("max_unit_price", pl.Float64(), "Unit price of the dearest product ordered."),
    OrderColumn(
        "digital_goods_share",
        pl.Float64(),
        "Share of the product value in lines that ship nothing (gift cards, digital goods).",
    ),
)
"""The input contract: one row per order, built from stg_orders (+ stg_order_contacts for the
e-mail, stg_addresses for the countries, stg_payments for the token, stg_customers for the
account date, stg_order_lines for the SKU mix)."""

REQUIRED_ORDER_COLUMNS: tuple[str, ...] = tuple(c.name for c in ORDER_COLUMNS if c.required)

FeatureKind = Literal["numeric", "boolean", "categorical"]


@dataclass(frozen=True)
class Feature:
    """One model feature: its column, how the model reads it, and what it means."""

    name: str
    kind: FeatureKind
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature(
        "seconds_since_signup",
        "numeric",
        "Seconds from account creation to the order (null: no account yet).",
    ),
    Feature("is_first_order", "boolean", "The customer's first order."),
    Feature("customer_prior_orders", "numeric", "The customer's earlier orders."),
    Feature("order_value", "numeric", "Order value."),
    Feature("value_to_prior_mean", "numeric", "Order value / mean of the customer's earlier."),
    Feature("units", "numeric", "Units of product in the order."),
    Feature("max_unit_price", "numeric", "Unit price of the dearest product in the order."),
    Feature(
        "digital_goods_share",
        "numeric",
        "Share of the product value in goods that ship nothing (gift cards, digital goods).",
    ),
    Feature("billing_shipping_mismatch", "boolean", "Billing and shipping countries differ."),
    Feature("ip_billing_mismatch", "boolean", "IP country differs from billing country."),
    Feature("ip_shipping_mismatch", "boolean", "IP country differs from shipping country."),
    Feature("customer_orders_1h", "numeric", "Customer's orders in the hour before."),
    Feature("customer_orders_24h", "numeric", "Customer's orders in the day before."),
    Feature("device_orders_1h", "numeric", "Orders from the device in the hour before."),
    Feature("device_orders_24h", "numeric", "Orders from the device in the day before."),
    Feature("ip_orders_1h", "numeric", "Orders from the IP address in the hour before."),
    Feature("ip_orders_24h", "numeric", "Orders from the IP address in the day before."),
    Feature("card_orders_1h", "numeric", "Orders with the card in the hour before."),
    Feature("card_orders_24h", "numeric", "Orders with the card in the day before."),
    Feature("device_other_customers", "numeric", "Other customers seen on the device so far."),
    Feature("ip_other_customers", "numeric", "Other customers seen on the IP address so far."),
    Feature("email_disposable", "boolean", "E-mail at a disposable-address domain."),
    Feature("email_free", "boolean", "E-mail at a free webmail domain."),
    Feature("email_numeric_local", "boolean", "E-mail name with a run of 4+ digits."),
    Feature("shipping_rushed", "boolean", "Express, expedited, overnight or same-day shipping."),
    Feature("hour_of_day", "numeric", "Hour the order was placed (merchant time)."),
    Feature("channel", "categorical", "Sales channel."),
    Feature("source_risk_level", "categorical", "Selling system's own risk verdict."),
    Feature("browser", "categorical", "Browser family from the user agent."),
    Feature("marketing_source", "categorical", "Referrer or campaign."),
    Feature("ip_country", "categorical", "Country of the IP address."),
)
"""The model's inputs, in the order the model sees them."""

FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
CONTEXT_COLUMNS: tuple[str, ...] = ("order_key", "created_at")
"""Columns the feature frame carries besides :data:`FEATURES` (keys for joins and splits)."""

DISPOSABLE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "mailinator.com",
        "guerrillamail.com",
        "sharklasers.com",
        "10minutemail.com",
        "temp-mail.org",
        "tempmail.com",
        "yopmail.com",
        "trashmail.com",
        "getnada.com",
        "dispostable.com",
        "maildrop.cc",
        "throwawaymail.com",
        "fakeinbox.com",
        "mintemail.com",
        "mailnesia.com",
        "emailondeck.com",
    }
)
"""A few well-known throw-away address providers (kept small on purpose: a list that needs
updates belongs in reference data the merchant supplies)."""

FREE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.ca",
        "yahoo.co.jp",
        "yahoo.fr",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.nl",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "zoho.com",
    }
)
"""Free webmail domains (anyone can open an address in a minute)."""

_RUSHED = r"(?i)express|expedit|overnight|next[ -]?day|same[ -]?day|priority|rush"

_BROWSERS: tuple[tuple[str, str], ...] = (
    # First match wins: Edge and Opera user agents also say Chrome; Chrome's says Safari.
    ("edge", r"(?i)\bedg(e|a|ios)?/|^\s*edge\s*$"),
    ("opera", r"(?i)\bopr/|opera"),
    ("ie", r"(?i)msie|trident/|^\s*ie\s*$"),
    ("firefox", r"(?i)firefox|fxios"),
    ("chrome", r"(?i)chrome|crios"),
    ("safari", r"(?i)safari"),
    ("app", r"(?i)^[a-z0-9]+/[\d.]+ \("),
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def conform_orders(orders: pl.DataFrame) -> pl.DataFrame:
    """The order frame in the contract's columns and types: missing optional columns become
    nulls, blank text becomes null, countries are upper case, e-mails and channels lower case,
    times are UTC. Raises ``ValueError`` naming missing required columns or duplicate keys."""
    missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise ValueError(f"orders lack required column(s): {', '.join(missing)}")
    exprs: list[pl.Expr] = []
    for column in ORDER_COLUMNS:
        if column.name not in orders.columns:
            exprs.append(pl.lit(None, column.dtype).alias(column.name))
            continue
        expr = pl.col(column.name)
        dtype = orders.schema[column.name]
        if isinstance(column.dtype, pl.Datetime):
            if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
                expr = expr.dt.convert_time_zone("UTC")
            elif isinstance(dtype, pl.Datetime):
                expr = expr.dt.replace_time_zone("UTC")
            elif dtype == pl.Date:
                expr = expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
            elif dtype != pl.Null:
                raise TypeError(f"{column.name} must be a datetime column, not {dtype}")
            expr = expr.cast(column.dtype)
        elif column.dtype == pl.String:
            expr = expr.cast(pl.String).str.strip_chars()
            expr = pl.when(expr != "").then(expr)
            if column.name.endswith("_country"):
                expr = expr.str.to_uppercase()
            elif column.name in ("email", "channel", "source_risk_level"):
                expr = expr.str.to_lowercase()
        else:
            expr = expr.cast(column.dtype)
        exprs.append(expr.alias(column.name))
    conformed = orders.select(exprs)
    if conformed.get_column("order_key").n_unique() != conformed.height:
        raise ValueError("order_key must be unique: one row per order")
    return conformed


def _counts(name: str, values: np.ndarray) -> pl.Series:
    """An Int64 column from float counts with NaN for null keys."""
    return pl.Series(name, values).fill_nan(None).cast(pl.Int64)


def _email_features(email: pl.Expr) -> list[pl.Expr]:
    at = email.str.find("@", literal=True)
    # After the last "@" would be exact for quoted local parts; normalised shop e-mails have one.
    domain = email.str.slice(at + 1)
    local = email.str.slice(0, at)
    has = at.is_not_null()
    return [
        pl.when(has).then(domain.is_in(DISPOSABLE_EMAIL_DOMAINS)).alias("email_disposable"),
        pl.when(has).then(domain.is_in(FREE_EMAIL_DOMAINS)).alias("email_free"),
        pl.when(has).then(local.str.contains(r"\d{4,}")).alias("email_numeric_local"),
    ]


def _browser(user_agent: pl.Expr) -> pl.Expr:
    expr: pl.Expr = pl.when(user_agent.is_not_null()).then(pl.lit("other"))
    for family, pattern in reversed(_BROWSERS):
        expr = pl.when(user_agent.str.contains(pattern)).then(pl.lit(family)).otherwise(expr)
    return expr


def _per_distinct(frame: pl.DataFrame, column: str, exprs: list[pl.Expr]) -> list[pl.Series]:
    """``exprs`` (over ``column``) evaluated once per distinct value, one value per row of
    ``frame``: regex-heavy features of values that repeat (user agents, shipping methods).
    Near-unique values (e-mails, IPs) are cheaper to evaluate row by row than to join back."""
    distinct = frame.select(pl.col(column).unique()).with_columns(exprs)
    joined = frame.select(column).join(
        distinct, on=column, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.drop(column).get_columns()


def _differ(a: str, b: str) -> pl.Expr:
    return pl.when(pl.col(a).is_not_null() & pl.col(b).is_not_null()).then(pl.col(a) != pl.col(b))


def fraud_features(
    orders: pl.DataFrame,
    *,
    ip_ranges: pl.DataFrame | None = None,
    timezone: str = "UTC",
) -> pl.DataFrame:
    """Point-in-time fraud features: one row per order (``order_key``, ``created_at``, then
    :data:`FEATURES`), in the input's row order.

    ``ip_ranges`` is a frame from :func:`models.ip_country.prepare_ip_ranges` (without it the
    IP country and its mismatches are null); ``timezone`` is the merchant's, for the hour.
    """
    conformed = conform_orders(orders).with_row_index("_input_row")
    ordered = conformed.sort("created_at", "order_key")  # the total order "before" refers to
    time_ms = ordered.get_column("created_at").dt.epoch("ms").to_numpy()
    total_cents = ordered.select(
        (pl.col("total") * 100).round().cast(pl.Int64).fill_null(0)
    ).to_series()
    has_total = ordered.get_column("total").is_not_null().to_numpy().astype(np.int64)

    customer = KeyGroups(ordered.get_column("customer_key"))
    prior_orders = customer.prior_count()
    prior_valued = customer.prior_sum(has_total)
    prior_cents = customer.prior_sum(total_cents.to_numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        prior_mean = np.where(prior_valued > 0, prior_cents / prior_valued / 100, np.nan)

    columns: list[pl.Series] = [
        _counts("customer_prior_orders", prior_orders),
        pl.Series("_prior_mean", prior_mean).fill_nan(None),
    ]
    groups = {"customer": customer}
    for label, column in (("device", "device_id"), ("ip", "client_ip"), ("card", "payment_token")):
        groups[label] = KeyGroups(ordered.get_column(column))
    for label, keyed in groups.items():
        columns.append(_counts(f"{label}_orders_1h", keyed.window_count(time_ms, HOUR_MS)))
        columns.append(_counts(f"{label}_orders_24h", keyed.window_count(time_ms, DAY_MS)))
    customer_ids = customer.ids
    is_keyed = (customer_ids >= 0).astype(np.float64)
    for label in ("device", "ip"):
        distinct = groups[label].distinct_so_far(customer_ids)
        # The current customer is among those counted, unless the order is a guest's.
        columns.append(_counts(f"{label}_other_customers", distinct - is_keyed))

    columns.append(ip_countries(ordered.get_column("client_ip"), ip_ranges))
    columns += ordered.select(_email_features(pl.col("email"))).get_columns()
    method = pl.col("shipping_method")
    rushed = pl.when(method.is_not_null()).then(method.str.contains(_RUSHED))
    columns += _per_distinct(ordered, "shipping_method", [rushed.alias("shipping_rushed")])
    browser = _browser(pl.col("user_agent")).alias("browser")
    columns += _per_distinct(ordered, "user_agent", [browser])
    features = (
        ordered.with_columns(*columns)
        .with_columns(
            # An account created after the order did not exist when it was placed: unknown,
            # not negative (the order's features may not know the future).
            pl.when(pl.col("account_created_at") <= pl.col("created_at"))
            .then(
                (pl.col("created_at") - pl.col("account_created_at")).dt.total_milliseconds() / 1000
            )
            .alias("seconds_since_signup"),
            (pl.col("customer_prior_orders") == 0).alias("is_first_order"),
            pl.col("total").alias("order_value"),
            pl.when(pl.col("_prior_mean") > 0)
            .then(pl.col("total") / pl.col("_prior_mean"))
            .alias("value_to_prior_mean"),
            _differ("billing_country", "shipping_country").alias("billing_shipping_mismatch"),
            _differ("ip_country", "billing_country").alias("ip_billing_mismatch"),
            _differ("ip_country", "shipping_country").alias("ip_shipping_mismatch"),
            pl.col("created_at").dt.convert_time_zone(timezone).dt.hour().alias("hour_of_day"),
        )
        .sort("_input_row")
    )
    return features.select(*CONTEXT_COLUMNS, *(f.name for f in FEATURES))
