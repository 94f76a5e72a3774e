"""Fraud signals a planned order can carry: the bits of ``Plan.signals`` and their names.

Grain: one bit per signal. Injectors of :mod:`pipelines.generator.fraud` set them on the plan;
:func:`~pipelines.generator.chunk.render_chunk` acts on the ones that change how an order is
rendered (:data:`RENDERED`), and the others are already in the customers table the injector
wrote (a sign-up seconds before the order, a disposable e-mail, a device or IP address
shared with other accounts, one card behind a burst of orders). The ground truth names an
order's signals with :func:`pattern_name`.
"""

from __future__ import annotations

FRAUD = 1 << 0
"""The order is fraudulent (without it: a legitimate order with a look-alike signal)."""
NEW_ACCOUNT_FAST = 1 << 1
"""The account was created less than a minute before this order (its first)."""
SHARED_DEVICE = 1 << 2
"""The order's device is used by other accounts too."""
SHARED_IP = 1 << 3
"""The order's IP address is used by other accounts too."""
IP_ABROAD = 1 << 4
"""The order comes from an IP address of another country than its billing address."""
SHIP_ABROAD = 1 << 5
"""The order ships to another country than its billing address."""
HIGH_VALUE = 1 << 6
"""The order buys the dearest goods (and gift cards, resold at once), several at a time."""
RUSHED = 1 << 7
"""The order ships express."""
DISPOSABLE_EMAIL = 1 << 8
"""The customer's e-mail is at a throw-away address provider."""
VELOCITY = 1 << 9
"""The order is one of a burst: several orders within an hour from one account, card,
device or IP address."""
NUMERIC_EMAIL = 1 << 10
"""The customer's e-mail name has a run of four digits (``jsmith4821@...``)."""

SIGNAL_NAMES: tuple[tuple[int, str], ...] = (
    (NEW_ACCOUNT_FAST, "new_account_fast"),
    (SHARED_DEVICE, "shared_device"),
    (SHARED_IP, "shared_ip"),
    (IP_ABROAD, "ip_country_mismatch"),
    (SHIP_ABROAD, "billing_shipping_mismatch"),
    (HIGH_VALUE, "high_value_goods"),
    (RUSHED, "rushed_shipping"),
    (DISPOSABLE_EMAIL, "disposable_email"),
    (NUMERIC_EMAIL, "numeric_email"),
    (VELOCITY, "velocity_burst"),
)
"""Every signal but :data:`FRAUD`, in the order :func:`pattern_name` lists them."""

RENDERED = FRAUD | IP_ABROAD | SHIP_ABROAD | HIGH_VALUE | RUSHED
"""Bits :func:`~pipelines.generator.chunk.render_chunk` acts on: a fraudulent order pays by
card with the account's saved card from the account's IP address; a legitimate order with
:data:`IP_ABROAD` comes from an address abroad (a fraudulent one's is in its account);
:data:`SHIP_ABROAD`, :data:`HIGH_VALUE` and :data:`RUSHED` change its goods and delivery."""

SHIPPING_SIGNALS = SHIP_ABROAD | RUSHED
"""Signals only an order that ships can show."""


def pattern_name(bits: int) -> str:
    """The signals of ``bits`` joined by ``+`` (``"new_account_fast+rushed_shipping"``), in
    :data:`SIGNAL_NAMES` order; ``""`` when there is none."""
    return "+".join(name for bit, name in SIGNAL_NAMES if bits & bit)
