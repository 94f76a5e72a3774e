"""The entry-accuracy rules: one definition per rule, run as one vectorised SQL predicate.

Grain: one :class:`Rule` per reason code (:mod:`orderlens.reasons`). A rule reads one check
frame (see :mod:`quality.frames`): ``order`` rules one row per staged order, ``line`` rules
one row per staged order line. Library checks (e-mail syntax, phone numbers, ISO codes,
postal codes) are computed once per distinct value before the frames are built, so every
rule here is a plain SQL predicate over frame columns.

Severity is per rule and channel: ``error`` quarantines the order (held out of analytics,
fraud scoring and fulfilment until fixed), ``warning`` flags it and lets it through, and a
channel mapped to ``None`` is not checked (a missing e-mail is normal at a till). The
principle: an order whose money, items, address or identity is wrong is an error (it
cannot be booked, picked or shipped as entered); doubtful contact data, contradictions in
a source's own history and suspicious values are warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from orderlens.reasons import ReasonCode, Severity

CHANNELS: tuple[str, ...] = ("online_store", "mobile_app", "marketplace", "pos", "other")

E = Severity.ERROR
W = Severity.WARNING


@dataclass(frozen=True)
class Rule:
    """One entry-accuracy rule."""

    code: ReasonCode
    grain: Literal["order", "line"]
    column: str
    """The field a person fixes."""
    fails: str
    """SQL predicate over the check frame: true when the rule fails (NULL counts as pass)."""
    message: str
    """SQL text expression: what exactly is wrong, in plain words, without personal data."""
    severity: Severity = E
    by_channel: Mapping[str, Severity | None] = field(default_factory=dict)
    """Overrides of ``severity`` per channel; None: the rule does not apply there."""
    value: str = "NULL"
    """SQL of the offending value (may be personal data: shown only to allowed roles)."""
    column_for_row: str | None = None
    """SQL naming the field per finding when it depends on the row (the billing or the
    shipping address); NULL falls back to ``column``."""

    def severity_for(self, channel: str) -> Severity | None:
        return self.by_channel.get(channel, self.severity)


def _money(expr: str) -> str:
    return f"CAST(round({expr}, 4) AS VARCHAR)"


_ARITH = "has_amounts"
"""Arithmetic is checked whenever the source states amounts: an invalid currency code does not
make the sums right (its tolerance is then one cent, ``minor_unit``)."""

RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------------ fields
    Rule(
        ReasonCode.EMAIL_INVALID,
        "order",
        "customer_email",
        "email IS NOT NULL AND NOT email_valid",
        "'e-mail is not a valid address'",
        W,
        value="email",
    ),
    Rule(
        ReasonCode.EMAIL_MISSING,
        "order",
        "customer_email",
        "email IS NULL AND customer_id IS NOT NULL AND source_gives_emails",
        "'an online order of a registered customer has no e-mail'",
        W,
        {"marketplace": None, "pos": None, "other": None},
    ),
    Rule(
        ReasonCode.PHONE_INVALID,
        "order",
        "customer_phone",
        "phone IS NOT NULL AND NOT phone_valid",
        "'phone is not a valid number for ' || coalesce(billing_cc, shipping_cc, 'any country')",
        W,
        value="phone",
    ),
    Rule(
        ReasonCode.COUNTRY_INVALID,
        "order",
        "shipping_country",
        "(shipping_country IS NOT NULL AND shipping_cc IS NULL) "
        "OR (billing_country IS NOT NULL AND billing_cc IS NULL)",
        "concat_ws(' and ', CASE WHEN billing_country IS NOT NULL AND billing_cc IS NULL "
        "THEN 'billing country' END, CASE WHEN shipping_country IS NOT NULL AND shipping_cc "
        "IS NULL THEN 'shipping country' END) || ' is not an ISO 3166 country'",
        E,
        {"pos": W},
        value="concat_ws(' / ', billing_country, shipping_country)",
        column_for_row="CASE WHEN shipping_country IS NOT NULL AND shipping_cc IS NULL "
        "THEN 'shipping_country' ELSE 'billing_country' END",
    ),
    Rule(
        ReasonCode.SUBDIVISION_INVALID,
        "order",
        "shipping_province",
        "NOT coalesce(billing_subdivision_valid, true) OR NOT coalesce(shipping_subdivision_valid, true)",
        "'province/state is not a subdivision of ' || coalesce(shipping_cc, billing_cc)",
        W,
        value="concat_ws(' / ', billing_province, shipping_province)",
        column_for_row="CASE WHEN NOT coalesce(shipping_subdivision_valid, true) "
        "THEN 'shipping_province' ELSE 'billing_province' END",
    ),
    Rule(
        ReasonCode.CURRENCY_INVALID,
        "order",
        "currency",
        "NOT currency_valid",
        "'currency is not an ISO 4217 code'",
        E,
        value="currency",
    ),
    Rule(
        ReasonCode.POSTAL_CODE_INVALID,
        "order",
        "shipping_zip",
        "NOT coalesce(billing_postal_valid, true) OR NOT coalesce(shipping_postal_valid, true)",
        "concat_ws(' and ', CASE WHEN NOT billing_postal_valid THEN 'billing' END, "
        "CASE WHEN NOT shipping_postal_valid THEN 'shipping' END) "
        "|| ' postal code does not fit ' || coalesce(shipping_cc, billing_cc)",
        E,
        {"pos": W, "other": W},
        value="concat_ws(' / ', billing_zip, shipping_zip)",
        column_for_row="CASE WHEN NOT coalesce(shipping_postal_valid, true) "
        "THEN 'shipping_zip' ELSE 'billing_zip' END",
    ),
    # ------------------------------------------------------------------ addresses
    Rule(
        ReasonCode.SHIPPING_ADDRESS_INCOMPLETE,
        "order",
        "shipping_address1",
        "ships AND source_gives_streets AND (shipping_address1 IS NULL OR shipping_city IS NULL "
        "OR shipping_country IS NULL OR (shipping_zip IS NULL AND shipping_has_postcodes))",
        "'the order ships but its shipping address lacks ' || concat_ws(', ', "
        "CASE WHEN shipping_address1 IS NULL THEN 'a street' END, "
        "CASE WHEN shipping_city IS NULL THEN 'a city' END, "
        "CASE WHEN shipping_zip IS NULL AND shipping_has_postcodes THEN 'a postal code' END, "
        "CASE WHEN shipping_country IS NULL THEN 'a country' END)",
        E,
        {"pos": None},
    ),
    Rule(
        ReasonCode.COUNTRY_MISMATCH,
        "order",
        "billing_country",
        "billing_cc IS NOT NULL AND shipping_cc IS NOT NULL AND billing_cc <> shipping_cc",
        "'billing country ' || billing_cc || ' differs from shipping country ' || shipping_cc",
        W,
    ),
    # ------------------------------------------------------------------ arithmetic
    Rule(
        ReasonCode.LINE_AMOUNT_MISMATCH,
        "line",
        "line_total",
        "stated_line_amount IS NOT NULL AND abs(stated_line_amount - line_amount) > minor_unit",
        f"'line amount ' || {_money('stated_line_amount')} || ' differs from quantity x unit "
        f"price - discount (' || {_money('line_amount')} || ') by ' || "
        f"{_money('stated_line_amount - line_amount')}",
    ),
    Rule(
        ReasonCode.SUBTOTAL_MISMATCH,
        "order",
        "subtotal",
        f"{_ARITH} AND subtotal IS NOT NULL AND n_lines > 0 "
        "AND abs(subtotal - expected_subtotal) > minor_unit",
        f"'subtotal ' || {_money('subtotal')} || ' differs from the lines (' || "
        f"{_money('expected_subtotal')} || ', ' || subtotal_rule || ') by ' || "
        f"{_money('subtotal - expected_subtotal')}",
    ),
    Rule(
        ReasonCode.TOTAL_MISMATCH,
        "order",
        "total",
        f"{_ARITH} AND total IS NOT NULL AND expected_total IS NOT NULL "
        "AND abs(total - expected_total) > minor_unit",
        f"'total ' || {_money('total')} || ' differs from ' || {_money('expected_total')} || "
        f"' (' || total_rule || ') by ' || {_money('total - expected_total')}",
    ),
    Rule(
        ReasonCode.PAYMENT_MISMATCH,
        "order",
        "payments",
        f"{_ARITH} AND is_paid AND captured IS NOT NULL AND total IS NOT NULL "
        "AND abs(captured - total) > minor_unit",
        f"'payments captured ' || {_money('captured')} || ' but the total is ' || "
        f"{_money('total')}",
        W,
    ),
    # ------------------------------------------------------------------ ranges
    Rule(
        ReasonCode.QUANTITY_INVALID,
        "line",
        "quantity",
        "is_product AND (quantity <= 0 OR quantity <> floor(quantity))",
        f"'quantity ' || {_money('quantity')} || ' is not a positive whole number'",
        value="CAST(quantity AS VARCHAR)",
    ),
    Rule(
        ReasonCode.PRICE_NEGATIVE,
        "line",
        "unit_price",
        "is_product AND unit_price < 0",
        f"'unit price ' || {_money('unit_price')} || ' is negative'",
    ),
    Rule(
        ReasonCode.PRICE_OUTLIER,
        "line",
        "unit_price",
        "is_product AND unit_price > 0 AND sku_lines >= 5 "
        "AND (unit_price > 5 * sku_median OR unit_price < 0.2 * sku_median)",
        f"'unit price ' || {_money('unit_price')} || ' is far from the usual ' || "
        f"{_money('sku_median')} || ' ' || currency || ' of ' || sku",
        W,
    ),
    # ------------------------------------------------------------------ references
    Rule(
        ReasonCode.SKU_UNKNOWN,
        "line",
        "sku",
        "is_product AND sku IS NOT NULL AND NOT sku_known AND source_in_catalogue",
        "'SKU ' || sku || ' is not in the catalogue'",
    ),
    Rule(
        ReasonCode.CUSTOMER_INCONSISTENT,
        "order",
        "customer_email",
        "email_differs_from_customer",
        "'customer ' || customer_id || ' usually orders with another e-mail'",
        W,
        value="email",
    ),
    # ------------------------------------------------------------------ time
    Rule(
        ReasonCode.TIMESTAMP_ORDER,
        "order",
        "status_events",
        "events_out_of_order > 0",
        "out_of_order_detail",
        W,
    ),
    Rule(
        ReasonCode.FUTURE_TIMESTAMP,
        "order",
        "created_at",
        "latest_time > checked_at + INTERVAL 1 DAY",
        "'a time of this order (' || strftime(latest_time, '%Y-%m-%d %H:%M') || "
        "') lies in the future'",
    ),
    Rule(
        ReasonCode.STATUS_TRANSITION_INVALID,
        "order",
        "fulfillment_status",
        "(delivered_at IS NOT NULL AND shipped_at IS NULL AND ships) "
        "OR (refunded_at IS NOT NULL AND paid_at IS NULL AND NOT is_paid) "
        "OR (cancelled_at IS NOT NULL AND delivered_at > cancelled_at)",
        "concat_ws('; ', "
        "CASE WHEN delivered_at IS NOT NULL AND shipped_at IS NULL AND ships "
        "THEN 'delivered but never shipped' END, "
        "CASE WHEN refunded_at IS NOT NULL AND paid_at IS NULL AND NOT is_paid "
        "THEN 'refunded but never paid' END, "
        "CASE WHEN cancelled_at IS NOT NULL AND delivered_at > cancelled_at "
        "THEN 'delivered after it was cancelled' END)",
        W,
    ),
    # ------------------------------------------------------------------ identity
    Rule(
        ReasonCode.DUPLICATE_SUBMISSION,
        "order",
        "order",
        "duplicate_of IS NOT NULL AND source_gives_times",
        "'same customer, items and total as order ' || duplicate_of || ' placed ' || "
        "duplicate_seconds || ' s earlier'",
    ),
    # ------------------------------------------------------------------ security
    Rule(
        ReasonCode.CARD_NUMBER_IN_TEXT,
        "order",
        "note",
        "card_in_text",
        "'a card number was typed into ' || card_in_text_fields || ' (redacted at ingest)'",
        W,
    ),
)
"""Every rule, one per reason code of the fields, address, arithmetic, ranges, references,
time, identity and security families."""

RULES_BY_CODE: dict[ReasonCode, Rule] = {rule.code: rule for rule in RULES}


def severity_sql(rule: Rule) -> str:
    """SQL of a rule's severity for the frame's ``channel`` (NULL: not checked there)."""
    cases = " ".join(
        f"WHEN '{channel}' THEN {_literal(rule.severity_for(channel))}"
        for channel in CHANNELS
        if rule.severity_for(channel) != rule.severity
    )
    default = _literal(rule.severity)
    return f"CASE channel {cases} ELSE {default} END" if cases else default


def _literal(severity: Severity | None) -> str:
    return "NULL" if severity is None else f"'{severity.value}'"
