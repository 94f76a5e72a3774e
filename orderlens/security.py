"""Personal data and payment data handling: normalising, keying, redacting, masking, CSV.

* Contact details are normalised (:func:`normalise_email`, :func:`normalise_phone`) and turned
  into a *customer key*, a keyed HMAC-SHA256 that links a customer's orders without storing
  who they are. :func:`customer_key` (Python) and :func:`customer_key_sql` (DuckDB SQL, used
  by the pipeline on millions of rows) compute the same value, and so do
  :func:`normalise_email` and :func:`normalise_email_sql`.
* Card numbers typed into free text are redacted (:func:`redact_card_numbers`).
* Personal columns are masked for roles that may not see them (:func:`mask_frame`).
* Every download and extract goes through one CSV writer (:func:`write_safe_csv`) that
  defuses spreadsheet formula injection and redacts card numbers.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import phonenumbers
import polars as pl
from stdnum import luhn

MASK = "•••"
"""What a masked value looks like when nothing of it may be shown."""

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters and byte-order marks
# Every character str.isspace() accepts, plus the invisible ones.
_BLANKS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000" + _INVISIBLE
)


# --------------------------------------------------------------------------- contact details


def normalise_email(raw: str | None) -> str | None:
    """Trim and lowercase an e-mail address; blank gives None. No validation happens here.

    The text is also put in Unicode NFC form (a composed and a decomposed ``ö`` give the same
    address), zero-width characters are trimmed with the blanks, NUL characters are dropped,
    and lowercasing is the plain per-character one DuckDB uses, so
    :func:`normalise_email_sql` gives the same result.
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFC", raw.replace("\x00", "")).strip(_BLANKS)
    # Per-character lowercasing as in DuckDB: dotted capital I to "i", no final-sigma rule.
    text = text.replace("\u0130", "i").replace("\u03a3", "\u03c3").lower()
    return text or None


def normalise_email_sql(expr: str) -> str:
    """A DuckDB SQL expression equal to :func:`normalise_email` of the SQL expression ``expr``.

    Use it wherever the pipeline normalises e-mails before :func:`customer_key_sql`, so a
    key computed in SQL matches one computed in Python.
    """
    blanks = " || ".join(f"chr({ord(c)})" for c in _BLANKS)
    text = f"replace(CAST(({expr}) AS VARCHAR), chr(0), '')"
    return f"nullif(lower(trim(nfc_normalize({text}), {blanks})), '')"


# "4.15555E+10" (a spreadsheet showing a phone number as a float), also with a decimal comma.
_SCIENTIFIC = re.compile(r"([0-9]+)(?:[.,]([0-9]*))?[eE]\+?([0-9]{1,2})")
# "4155550123.0" (a phone number that went through a float column).
_FLOAT_ZERO = re.compile(r"(\+?[0-9]+)[.,]0+")


@functools.lru_cache(maxsize=65_536)
def normalise_phone(raw: str | None, region: str | None) -> str | None:
    """The phone number in E.164 form (``+14155550123``), or None when it is not a valid number.

    ``region`` is the ISO 3166-1 alpha-2 country assumed for numbers written without a
    country code (None: such numbers are rejected). Spreadsheet damage is repaired where no
    digit was lost: a leading apostrophe, an ``="..."`` wrapper, a trailing ``.0``, and
    scientific notation whose mantissa still holds every digit (``1.4155550123E+10``).
    Scientific notation that dropped digits (``4.15555E+10``) gives None rather than a guessed
    number, which could link two different customers.
    """
    if raw is None:
        return None
    text = raw.strip(_BLANKS).lstrip("'").strip(_BLANKS)
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1].strip()
    if not text:
        return None
    scientific = _SCIENTIFIC.fullmatch(text)
    if scientific:
        whole, fraction, exponent = (
            scientific.group(1),
            scientific.group(2) or "",
            scientific.group(3),
        )
        if len(fraction) != int(exponent):
            return None  # digits were lost (or it is not a whole number)
        text = whole + fraction
    else:
        float_zero = _FLOAT_ZERO.fullmatch(text)
        if float_zero:
            text = float_zero.group(1)
    country = region.strip().upper() if region and region.strip() else None
    try:
        number = phonenumbers.parse(text, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --------------------------------------------------------------------------- customer key

_KEY_HEX_CHARS = 32
_SHA256_BLOCK = 64


def _customer_message(
    email_norm: str | None, phone_e164: str | None, source_customer: str | None = None
) -> str | None:
    if email_norm:
        return "e:" + email_norm
    if phone_e164:
        return "p:" + phone_e164
    if source_customer:
        return "s:" + source_customer
    return None


def customer_key(
    email_norm: str | None,
    phone_e164: str | None,
    secret: bytes,
    source_customer: str | None = None,
) -> str | None:
    """The customer key: HMAC-SHA256 of the normalised e-mail, else of the E.164 phone, else
    of the selling system's own customer id (``source_customer`` = ``<source>:<customer id>``:
    marketplaces and legacy logs such as Olist's customer_unique_id carry no contact data).

    Takes values already normalised by :func:`normalise_email` / :func:`normalise_phone`.
    Blank strings count as missing. Returns the first 32 hex characters, or None when there
    is none of the three (a guest).
    """
    message = _customer_message(email_norm, phone_e164, source_customer)
    if message is None:
        return None
    digest = hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:_KEY_HEX_CHARS]


def customer_key_sql(
    email_expr: str, phone_expr: str, secret: bytes, source_customer_expr: str = "NULL"
) -> str:
    """A DuckDB SQL expression equal to :func:`customer_key` of two SQL expressions.

    ``email_expr`` and ``phone_expr`` are SQL expressions (usually column names) of values
    already normalised. HMAC is spelt out with ``sha256``: the key, padded to the block size,
    is XOR-ed with the inner and outer pads here and embedded as hex literals, so the
    expression contains key material: do not log it.
    """
    key = hashlib.sha256(secret).digest() if len(secret) > _SHA256_BLOCK else secret
    key = key.ljust(_SHA256_BLOCK, b"\x00")
    inner = bytes(b ^ 0x36 for b in key).hex()
    outer = bytes(b ^ 0x5C for b in key).hex()
    email = f"CAST(({email_expr}) AS VARCHAR)"
    phone = f"CAST(({phone_expr}) AS VARCHAR)"
    source_customer = f"CAST(({source_customer_expr}) AS VARCHAR)"
    message = (
        f"CASE WHEN coalesce({email}, '') <> '' THEN 'e:' || {email} "
        f"WHEN coalesce({phone}, '') <> '' THEN 'p:' || {phone} "
        f"WHEN coalesce({source_customer}, '') <> '' THEN 's:' || {source_customer} END"
    )
    inner_hash = f"unhex(sha256(unhex('{inner}') || encode({message})))"
    return f"left(sha256(unhex('{outer}') || {inner_hash}), {_KEY_HEX_CHARS})"


# --------------------------------------------------------------------------- card numbers

# Digit groups joined by single spaces or dashes; ASCII digits only.
_DIGIT_RUN = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_MIN_PAN, _MAX_PAN = 13, 19
_NETWORK_DIGITS = "23456"  # first digit of Visa, Mastercard, Amex, Discover, JCB, UnionPay
# Cheap pre-filter for Polars (Rust regex): at least 13 digits with single separators.
_CARD_CANDIDATE = r"[0-9](?:[ -]?[0-9]){12}"


def _digit_count(text: str) -> int:
    return sum(map(text.count, "0123456789"))


def _is_pan(digits: str) -> bool:
    return _MIN_PAN <= len(digits) <= _MAX_PAN and luhn.checksum(digits) == 0


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Character spans of card numbers inside one run of digit groups.

    The whole run is a card when it has 13-19 digits and passes Luhn. In a longer run (a
    card written next to an expiry date, a CVV or a reference) a card is looked for among
    whole groups at the start or at the end of the run, beginning like the card networks'
    numbers (2-6); a run without separators is never cut, so long ids stay intact.
    """
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    digits = [run[start:end] for start, end in groups]
    if _is_pan("".join(digits)):
        return [(0, len(run))]
    count = len(groups)
    ends = [(0, last) for last in range(count - 1)] + [
        (first, count - 1) for first in range(1, count)
    ]
    found: list[tuple[int, int, int]] = []  # (digits, first group, last group)
    for first, last in ends:
        joined = "".join(digits[first : last + 1])
        if joined[0] in _NETWORK_DIGITS and _is_pan(joined):
            found.append((len(joined), first, last))
    found.sort(key=lambda item: (-item[0], item[1]))  # longest first
    spans: list[tuple[int, int]] = []
    for _length, first, last in found:
        if all(last < taken_first or first > taken_last for taken_first, taken_last in spans):
            spans.append((first, last))
    return sorted((groups[first][0], groups[last][1]) for first, last in spans)


def redact_card_numbers(text: str | None) -> tuple[str | None, int]:
    """Replace card numbers in free text with ``[card ••••1234]``; return text and count.

    A card number is 13-19 digits, possibly split by single spaces or dashes, that passes
    the Luhn check. Other digit runs (order, phone and tracking numbers) stay; note that about
    one in ten random 13-19 digit ids passes Luhn by chance and is redacted too.
    """
    if text is None or _digit_count(text) < _MIN_PAN:
        return text, 0
    pieces: list[str] = []
    count = 0
    position = 0
    for run in _DIGIT_RUN.finditer(text):
        if _digit_count(run.group()) < _MIN_PAN:
            continue
        for start, end in _card_spans(run.group()):
            card = run.group()[start:end]
            pieces.append(text[position : run.start() + start])
            pieces.append(f"[card ••••{_digits(card)[-4:]}]")
            position = run.start() + end
            count += 1
    if not count:
        return text, 0
    pieces.append(text[position:])
    return "".join(pieces), count


def contains_card_number(text: str | None) -> bool:
    """True when the text holds at least one card number (see :func:`redact_card_numbers`)."""
    return redact_card_numbers(text)[1] > 0


def _digits(text: str) -> str:
    return "".join(c for c in text if "0" <= c <= "9")


# --------------------------------------------------------------------------- masking


def mask_email(value: str | None) -> str | None:
    """``john.doe@example.com`` -> ``j•••@example.com``; without a domain, ``•••``."""
    if value is None:
        return None
    local, at, domain = value.strip().rpartition("@")
    if not at or not domain:
        return MASK
    return f"{local[:1]}{MASK}@{domain}"


def mask_phone(value: str | None) -> str | None:
    """``+14155550123`` -> ``•••••••0123``: one dot per hidden digit, the last 2-4 shown."""
    if value is None:
        return None
    digits = _digits(value)
    count = len(digits)
    keep = 4 if count >= 10 else 3 if count >= 8 else 2 if count >= 5 else 0
    if keep == 0:
        return MASK
    return "•" * (count - keep) + digits[-keep:]


def mask_name(value: str | None) -> str | None:
    """``Jane Doe`` -> ``J. D.``: the initial of each part of the name."""
    if value is None:
        return None
    parts = value.split()
    if not parts:
        return value
    return " ".join(f"{part[0].upper()}." for part in parts)


def mask_text(value: str | None) -> str | None:
    """Any value that may not be shown at all (street address, IP address): ``•••``."""
    return None if value is None else MASK


def card_display(brand: str | None, last4: str | None) -> str | None:
    """``("visa", "1234")`` -> ``visa ••••1234``; only the last four digits are ever shown."""
    digits = _digits(last4 or "")[-4:]
    label = (brand or "").strip().lower()
    if not digits:
        return label or None
    return f"{label or 'card'} ••••{digits}"


_MASKERS: dict[str, Callable[[str | None], str | None]] = {
    "email": mask_email,
    "phone": mask_phone,
    "name": mask_name,
    "text": mask_text,
    "ip": mask_text,
}
PERSONAL_KINDS: frozenset[str] = frozenset(_MASKERS)
"""The kinds :func:`mask_frame` knows: email, phone, name, text, ip."""


def _map_distinct(series: pl.Series, function: Callable[[str], str | None]) -> pl.Series:
    """Apply a Python function once per distinct non-null text value of a column."""
    text = series if series.dtype == pl.String else series.cast(pl.String)
    distinct = text.drop_nulls().unique().to_list()
    if not distinct:
        return text
    mapping = {value: function(value) for value in distinct}
    return text.replace_strict(mapping, default=None, return_dtype=pl.String)


def mask_frame(
    df: pl.DataFrame, personal_columns: Mapping[str, str], allowed: bool
) -> pl.DataFrame:
    """Mask the personal columns of a frame unless the viewer may see personal data.

    ``personal_columns`` maps a column name to its kind (see :data:`PERSONAL_KINDS`);
    columns the frame lacks are ignored. An unknown kind is an error, so a typo can never
    leave a column unmasked.
    """
    unknown = {kind for kind in personal_columns.values() if kind not in _MASKERS}
    if unknown:
        raise ValueError(
            f"unknown personal data kind(s) {sorted(unknown)}; use {sorted(PERSONAL_KINDS)}"
        )
    if allowed:
        return df
    masked = [
        _map_distinct(df.get_column(name), _MASKERS[kind]).alias(name)
        for name, kind in personal_columns.items()
        if name in df.columns
    ]
    return df.with_columns(masked) if masked else df


# --------------------------------------------------------------------------- safe CSV

# A spreadsheet reads these as formulas: = + - @ first (also after blanks), or tab / CR first.
_FORMULA_START = r"^(?:[\t\r]|\s*[=+\-@])"
_FORMULA_START_PY = re.compile(_FORMULA_START)


def _defuse(value: str) -> str:
    return "'" + value if _FORMULA_START_PY.match(value) else value


def _redact_column(series: pl.Series) -> pl.Series:
    """Redact card numbers in a text column; only rows that may hold one reach Python."""
    candidates = series.filter(series.str.contains(_CARD_CANDIDATE).fill_null(False))
    if candidates.is_empty():
        return series
    changed: dict[str, str] = {}
    for value in candidates.unique().to_list():
        redacted, count = redact_card_numbers(value)
        if count and redacted is not None:
            changed[value] = redacted
    if not changed:
        return series
    return series.replace(changed)


def _as_text(series: pl.Series) -> pl.Series:
    """A non-numeric, non-temporal column as text (nested values as JSON)."""
    dtype = series.dtype
    if dtype == pl.String:
        return series
    if isinstance(dtype, pl.Struct):
        encoded = series.struct.json_encode()
    elif isinstance(dtype, pl.List | pl.Array):
        wrapped = pl.DataFrame({"v": series}).select(pl.struct("v").struct.json_encode())
        encoded = wrapped.to_series().str.slice(5, None).str.strip_suffix("}")
    elif dtype == pl.Binary:
        encoded = series.bin.encode("hex")
    elif dtype == pl.Object:
        values = [None if value is None else str(value) for value in series.to_list()]
        encoded = pl.Series(values, dtype=pl.String)
    else:  # Categorical, Enum, Null and anything else that casts
        encoded = series.cast(pl.String)
    return (
        pl.DataFrame({"v": series.is_null(), "t": encoded})
        .select(pl.when(pl.col("v")).then(None).otherwise(pl.col("t")))
        .to_series()
    )


def _safe_column(series: pl.Series) -> pl.Series:
    """One column ready for a spreadsheet: numbers as they are, temporal ISO, text defused."""
    dtype = series.dtype
    if dtype.is_numeric() or dtype == pl.Boolean:
        return series
    if dtype == pl.Date:
        return series.dt.to_string("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        zone = "%:z" if dtype.time_zone else ""
        return series.dt.to_string(f"%Y-%m-%dT%H:%M:%S%.f{zone}")
    if dtype == pl.Time:
        return series.dt.to_string("%H:%M:%S%.f")
    if isinstance(dtype, pl.Duration):
        return series.dt.to_string("iso")
    text = _redact_column(_as_text(series))
    return (
        pl.DataFrame({"t": text})
        .select(
            pl.when(pl.col("t").str.contains(_FORMULA_START))
            .then(pl.lit("'") + pl.col("t"))
            .otherwise(pl.col("t"))
        )
        .to_series()
    )


def _header_bytes(columns: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_defuse(name) for name in columns])
    return buffer.getvalue().encode("utf-8")


def _write(df: pl.DataFrame, handle: IO[bytes]) -> int:
    if df.width == 0:
        return 0
    handle.write(_header_bytes(df.columns))
    if df.height == 0:
        return 0
    safe = pl.DataFrame(
        [_safe_column(df.get_column(name)).alias(f"c{i}") for i, name in enumerate(df.columns)]
    )
    handle.flush()
    safe.write_csv(
        handle,
        include_header=False,
        line_terminator="\r\n",
        quote_style="necessary",
        # A single-column row that is null would be a blank line, which readers skip.
        null_value='""' if df.width == 1 else "",
    )
    return df.height


def write_safe_csv(df: pl.DataFrame, target: Path | IO[bytes]) -> int:
    """Write a frame as CSV for a spreadsheet; return the number of rows written.

    UTF-8 without byte-order mark, a header row, CRLF line ends and RFC 4180 quoting. Text
    cells (and column names) that a spreadsheet would run as a formula get a leading
    apostrophe; card numbers in text are redacted; numeric columns stay plain numbers
    (negative ones too); dates and timestamps are ISO 8601; nulls are empty. A file target is
    written beside the final name and renamed over it, so it is never seen half written.
    """
    if not isinstance(target, Path):
        return _write(df, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    staging = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            rows = _write(df, handle)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return rows


def safe_csv_bytes(df: pl.DataFrame) -> bytes:
    """The bytes :func:`write_safe_csv` would write (for download buttons)."""
    buffer = io.BytesIO()
    _write(df, buffer)
    return buffer.getvalue()
