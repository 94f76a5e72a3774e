"""Reason codes: the stable names of everything that can be wrong with an order.

One code per defect, shared by the generator's ground truth (what an injector broke), the
ingest layer (records that could not be read) and the entry-accuracy rules in ``quality/``
(what a validator must report). Codes are extended here and never renamed: quarantine
rows, quality history and reviewers' filters keep them for years.

Grain of :data:`REASONS`: one entry per code, with its family and a plain-language
description for people fixing orders (the rule's own message says what exactly failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """Stable codes of what is wrong with a record or an order (meanings: :data:`REASONS`)."""

    # Files and records (ingest).
    DUPLICATE_SUBMISSION = "DUPLICATE_SUBMISSION"
    TRUNCATED_ROW = "TRUNCATED_ROW"
    BAD_ENCODING = "BAD_ENCODING"
    OVERLAPPING_EXPORT = "OVERLAPPING_EXPORT"
    COLUMN_ORDER = "COLUMN_ORDER"

    # Fields.
    EMAIL_INVALID = "EMAIL_INVALID"
    EMAIL_MISSING = "EMAIL_MISSING"
    PHONE_INVALID = "PHONE_INVALID"
    COUNTRY_INVALID = "COUNTRY_INVALID"
    SUBDIVISION_INVALID = "SUBDIVISION_INVALID"
    CURRENCY_INVALID = "CURRENCY_INVALID"
    POSTAL_CODE_INVALID = "POSTAL_CODE_INVALID"

    # Addresses.
    SHIPPING_ADDRESS_INCOMPLETE = "SHIPPING_ADDRESS_INCOMPLETE"
    COUNTRY_MISMATCH = "COUNTRY_MISMATCH"

    # Arithmetic.
    LINE_AMOUNT_MISMATCH = "LINE_AMOUNT_MISMATCH"
    SUBTOTAL_MISMATCH = "SUBTOTAL_MISMATCH"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    PAYMENT_MISMATCH = "PAYMENT_MISMATCH"

    # Ranges.
    QUANTITY_INVALID = "QUANTITY_INVALID"
    PRICE_NEGATIVE = "PRICE_NEGATIVE"
    PRICE_OUTLIER = "PRICE_OUTLIER"

    # References.
    SKU_UNKNOWN = "SKU_UNKNOWN"
    CUSTOMER_INCONSISTENT = "CUSTOMER_INCONSISTENT"

    # Time.
    TIMESTAMP_ORDER = "TIMESTAMP_ORDER"
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"
    STATUS_TRANSITION_INVALID = "STATUS_TRANSITION_INVALID"

    # Security.
    CARD_NUMBER_IN_TEXT = "CARD_NUMBER_IN_TEXT"


class Severity(StrEnum):
    """What a failed rule does to its order."""

    ERROR = "error"
    """Quarantine the order: held out of analytics, fraud scoring and fulfilment until fixed."""
    WARNING = "warning"
    """Flag the order and let it through."""


@dataclass(frozen=True)
class Reason:
    """A reason code's family and what it means, for people fixing orders."""

    code: ReasonCode
    family: str
    description: str


def _reasons() -> dict[ReasonCode, Reason]:
    families = {
        "ingest": (
            ReasonCode.DUPLICATE_SUBMISSION,
            ReasonCode.TRUNCATED_ROW,
            ReasonCode.BAD_ENCODING,
            ReasonCode.OVERLAPPING_EXPORT,
            ReasonCode.COLUMN_ORDER,
        ),
        "fields": (
            ReasonCode.EMAIL_INVALID,
            ReasonCode.EMAIL_MISSING,
            ReasonCode.PHONE_INVALID,
            ReasonCode.COUNTRY_INVALID,
            ReasonCode.SUBDIVISION_INVALID,
            ReasonCode.CURRENCY_INVALID,
            ReasonCode.POSTAL_CODE_INVALID,
        ),
        "address": (ReasonCode.SHIPPING_ADDRESS_INCOMPLETE, ReasonCode.COUNTRY_MISMATCH),
        "arithmetic": (
            ReasonCode.LINE_AMOUNT_MISMATCH,
            ReasonCode.SUBTOTAL_MISMATCH,
            ReasonCode.TOTAL_MISMATCH,
            ReasonCode.PAYMENT_MISMATCH,
        ),
        "ranges": (
            ReasonCode.QUANTITY_INVALID,
            ReasonCode.PRICE_NEGATIVE,
            ReasonCode.PRICE_OUTLIER,
        ),
        "references": (ReasonCode.SKU_UNKNOWN, ReasonCode.CUSTOMER_INCONSISTENT),
        "time": (
            ReasonCode.TIMESTAMP_ORDER,
            ReasonCode.FUTURE_TIMESTAMP,
            ReasonCode.STATUS_TRANSITION_INVALID,
        ),
        "security": (ReasonCode.CARD_NUMBER_IN_TEXT,),
    }
    return {
        code: Reason(code, family, _DESCRIPTIONS[code])
        for family, codes in families.items()
        for code in codes
    }


_DESCRIPTIONS: dict[ReasonCode, str] = {
    ReasonCode.DUPLICATE_SUBMISSION: "Same customer, items and total submitted again minutes later.",
    ReasonCode.TRUNCATED_ROW: "The file ends in the middle of this record.",
    ReasonCode.BAD_ENCODING: "The record's bytes are not valid UTF-8.",
    ReasonCode.OVERLAPPING_EXPORT: "The order arrived in more than one export.",
    ReasonCode.COLUMN_ORDER: "The file's columns are in another order (read by name).",
    ReasonCode.EMAIL_INVALID: "The e-mail address is not a valid address.",
    ReasonCode.EMAIL_MISSING: "An online order with a customer account has no e-mail.",
    ReasonCode.PHONE_INVALID: "The phone number is not a valid number for the address country.",
    ReasonCode.COUNTRY_INVALID: "A country is not an ISO 3166 country code or name.",
    ReasonCode.SUBDIVISION_INVALID: "The province/state is not part of the address country.",
    ReasonCode.CURRENCY_INVALID: "The currency is not an ISO 4217 code.",
    ReasonCode.POSTAL_CODE_INVALID: "The postal code does not fit the address country.",
    ReasonCode.SHIPPING_ADDRESS_INCOMPLETE: "An order that ships has no complete address.",
    ReasonCode.COUNTRY_MISMATCH: "Billing and shipping countries differ.",
    ReasonCode.LINE_AMOUNT_MISMATCH: "A line amount is not quantity x price - discount.",
    ReasonCode.SUBTOTAL_MISMATCH: "The subtotal does not equal the sum of the lines.",
    ReasonCode.TOTAL_MISMATCH: "The total does not equal subtotal + shipping + taxes.",
    ReasonCode.PAYMENT_MISMATCH: "The money captured does not equal the order total.",
    ReasonCode.QUANTITY_INVALID: "A quantity is not a positive whole number.",
    ReasonCode.PRICE_NEGATIVE: "A unit price is negative.",
    ReasonCode.PRICE_OUTLIER: "A unit price is far outside the SKU's usual prices.",
    ReasonCode.SKU_UNKNOWN: "A SKU is not in the catalogue.",
    ReasonCode.CUSTOMER_INCONSISTENT: "One customer id carries different e-mail addresses.",
    ReasonCode.TIMESTAMP_ORDER: "Order lifecycle times are out of order.",
    ReasonCode.FUTURE_TIMESTAMP: "A time lies in the future.",
    ReasonCode.STATUS_TRANSITION_INVALID: "A status was reached without the steps before it.",
    ReasonCode.CARD_NUMBER_IN_TEXT: "A card number was typed into a text field (redacted).",
}

REASONS: dict[ReasonCode, Reason] = _reasons()
"""Every reason code with its family and description."""
