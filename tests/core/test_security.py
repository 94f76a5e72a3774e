"""Personal and payment data handling: keys, card redaction, masking and the safe CSV."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderlens.security import (
    card_display,
    contains_card_number,
    customer_key,
    customer_key_sql,
    mask_email,
    mask_frame,
    mask_name,
    mask_phone,
    mask_text,
    normalise_email,
    normalise_email_sql,
    normalise_phone,
    redact_card_numbers,
    safe_csv_bytes,
    write_safe_csv,
)

SECRET = b"test-secret-0123456789abcdef"


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --------------------------------------------------------------------------- normalising


def test_normalise_email_trims_and_lowercases() -> None:
    assert normalise_email("  John.Doe@Example.COM \n") == "john.doe@example.com"
    assert normalise_email("\ufeff\xa0a@b.com\t") == "a@b.com"
    assert normalise_email("jo\u0308rg@x.de") == normalise_email("J\u00d6RG@X.DE")
    assert normalise_email("   ") is None
    assert normalise_email(None) is None
    assert normalise_email("not an email") == "not an email"  # no validation here


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+1 415-555-0123", None),
        ("+1 415-555-0123", "US"),
        ("(415) 555-0123", "US"),
        ("415.555.0123", "us"),
        ("'+14155550123", None),
        ("4155550123.0", "US"),
        ("1.4155550123E+10", "US"),
        ('="4155550123"', "US"),
    ],
)
def test_normalise_phone_gives_e164(raw: str, region: str | None) -> None:
    assert normalise_phone(raw, region) == "+14155550123"


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("4.15555E+10", "US"),  # digits lost to scientific notation: never guess
        ("1.41556E+10", "US"),
        ("(415) 555-0123", None),  # no country code and no region
        ("not a phone", "US"),
        ("123", "US"),
        ("", "US"),
        (None, "US"),
        ("4155550123", "XX"),
    ],
)
def test_normalise_phone_rejects_what_it_cannot_trust(raw: str | None, region: str) -> None:
    assert normalise_phone(raw, region) is None


# --------------------------------------------------------------------------- customer key


@functools.cache
def _duckdb() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def _sql_key(
    email: str | None, phone: str | None, secret: bytes, source_customer: str | None = None
) -> str | None:
    key = customer_key_sql("e", "p", secret, "s")
    sql = f"SELECT {key} FROM (SELECT ?::VARCHAR AS e, ?::VARCHAR AS p, ?::VARCHAR AS s)"
    row = _duckdb().execute(sql, [email, phone, source_customer]).fetchone()
    assert row is not None
    return row[0]


def test_customer_key_prefers_email_then_phone() -> None:
    by_email = customer_key("a@example.com", "+14155550123", SECRET)
    assert by_email == customer_key("a@example.com", None, SECRET)
    assert by_email != customer_key(None, "+14155550123", SECRET)
    assert customer_key(None, None, SECRET) is None
    assert customer_key("", "", SECRET) is None
    assert by_email is not None and len(by_email) == 32
    assert customer_key("a@example.com", None, b"other secret") != by_email


def test_email_case_and_space_give_the_same_key() -> None:
    keys = {
        customer_key(normalise_email(raw), None, SECRET)
        for raw in ("John.Doe@Example.com", "  john.doe@example.COM ", "JOHN.DOE@EXAMPLE.COM")
    }
    assert len(keys) == 1


def test_phone_formats_give_the_same_key() -> None:
    first = customer_key(None, normalise_phone("+1 415-555-0123", "US"), SECRET)
    second = customer_key(None, normalise_phone("(415) 555-0123", "US"), SECRET)
    assert first is not None
    assert first == second


_contact = (
    st.none()
    | st.text(max_size=40)
    | st.emails().map(str.upper)
    | st.text(alphabet=st.sampled_from(" \t\xa0\u200bAbİΣẞÖo\u0308@."), max_size=12)
)


def test_customer_key_falls_back_to_the_source_customer_id() -> None:
    marketplace = customer_key(None, None, SECRET, "olist:861eff4711a542e4b93843c6dd7febb0")
    assert marketplace is not None
    assert marketplace != customer_key(None, None, SECRET, "olist:other")
    assert customer_key("a@example.com", None, SECRET, "olist:x") == customer_key(
        "a@example.com", None, SECRET
    )
    assert customer_key(None, None, SECRET, "") is None


@settings(max_examples=60, deadline=None)
@given(
    email=_contact,
    phone=st.none() | st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True) | st.text(max_size=8),
    source_customer=st.none() | st.text(max_size=12),
    secret=st.binary(min_size=1, max_size=100),
)
def test_sql_key_equals_python_key(
    email: str | None, phone: str | None, source_customer: str | None, secret: bytes
) -> None:
    email_norm = normalise_email(email)
    assert _sql_key(email_norm, phone, secret, source_customer) == customer_key(
        email_norm, phone, secret, source_customer
    )


@settings(max_examples=60, deadline=None)
@given(email=_contact)
def test_sql_email_normalisation_equals_python(email: str | None) -> None:
    sql = f"SELECT {normalise_email_sql('?')}"
    row = _duckdb().execute(sql, [email]).fetchone()
    assert row is not None
    assert row[0] == normalise_email(email)


@pytest.mark.parametrize("email", ["jöhn@exämple.de", "用户@例子.广告", "ελένη@παράδειγμα.gr"])
def test_sql_key_equals_python_key_for_unicode(email: str) -> None:
    email_norm = normalise_email(email)
    assert _sql_key(email_norm, None, SECRET) == customer_key(email_norm, None, SECRET)
    long_secret = bytes(range(256))  # longer than the SHA-256 block: hashed first
    assert _sql_key(email_norm, None, long_secret) == customer_key(email_norm, None, long_secret)


def test_sql_key_on_a_table_with_nulls() -> None:
    con = duckdb.connect()
    rows = [("a@example.com", None), (None, "+14155550123"), (None, None), ("", "+14155550123")]
    con.execute("CREATE TABLE c (email VARCHAR, phone VARCHAR)")
    con.executemany("INSERT INTO c VALUES (?, ?)", rows)
    got = con.execute(f"SELECT {customer_key_sql('email', 'phone', SECRET)} FROM c").fetchall()
    con.close()
    assert [g[0] for g in got] == [customer_key(e, p, SECRET) for e, p in rows]
    assert got[2][0] is None


# --------------------------------------------------------------------------- card numbers


def test_valid_cards_are_redacted_with_their_last_four() -> None:
    text, count = redact_card_numbers(
        "paid with 4111 1111 1111 1111, then 5555-5555-5555-4444 and 378282246310005."
    )
    assert count == 3
    assert text == ("paid with [card ••••1111], then [card ••••4444] and [card ••••0005].")


def test_non_luhn_digit_runs_stay() -> None:
    note = "order 1234567812345678, call +1 415 555 0123, tracking 9400 1000 0000 0000 0000 00"
    assert redact_card_numbers(note) == (note, 0)
    assert not contains_card_number(note)


def test_card_next_to_other_digits_is_still_found() -> None:
    text, count = redact_card_numbers("ref 12 4111 1111 1111 1111 thanks")
    assert count == 1
    assert text == "ref 12 [card ••••1111] thanks"


def test_card_redaction_fast_path_and_none() -> None:
    assert redact_card_numbers("order #1001, 3 items") == ("order #1001, 3 items", 0)
    assert redact_card_numbers(None) == (None, 0)
    assert contains_card_number("4111111111111111")


# --------------------------------------------------------------------------- masking


def test_masking_helpers() -> None:
    assert mask_email("john.doe@example.com") == "j•••@example.com"
    assert mask_email("no-at-sign") == "•••"
    assert mask_phone("+14155550123") == "•••••••0123"
    assert mask_phone("12") == "•••"
    assert mask_name("Jane Doe") == "J. D."
    assert mask_text("1 Main Street") == "•••"
    assert mask_text("203.0.113.9") == "•••"
    assert card_display("Visa", "1234") == "visa ••••1234"
    assert card_display(None, "4111111111111111") == "card ••••1111"
    for mask in (mask_email, mask_phone, mask_name, mask_text):
        assert mask(None) is None


def test_mask_frame_masks_only_when_not_allowed() -> None:
    df = pl.DataFrame(
        {
            "email": ["john.doe@example.com", None],
            "phone": ["+14155550123", "+14155550199"],
            "name": ["Jane Doe", "Ann Lee"],
            "address": ["1 Main St", None],
            "ip": ["203.0.113.9", "198.51.100.1"],
            "total": [10.5, 20.0],
        }
    )
    kinds = {
        "email": "email",
        "phone": "phone",
        "name": "name",
        "address": "text",
        "ip": "ip",
        "absent": "text",
    }
    assert mask_frame(df, kinds, allowed=True).equals(df)
    masked = mask_frame(df, kinds, allowed=False)
    assert masked.row(0) == ("j•••@example.com", "•••••••0123", "J. D.", "•••", "•••", 10.5)
    assert masked.row(1) == (None, "•••••••0199", "A. L.", None, "•••", 20.0)
    with pytest.raises(ValueError, match="unknown personal data kind"):
        mask_frame(df, {"email": "emial"}, allowed=False)


# --------------------------------------------------------------------------- safe CSV


def test_formula_injection_is_defused() -> None:
    cells = ["=1+1", "+1", "-2 text", "@SUM(A1:A2)", "\t=x", "\r=x", " =x", "plain", "a=b"]
    rows = _rows(safe_csv_bytes(pl.DataFrame({"note": cells})))
    assert rows[0] == ["note"]
    assert [r[0] for r in rows[1:]] == [
        "'=1+1",
        "'+1",
        "'-2 text",
        "'@SUM(A1:A2)",
        "'\t=x",
        "'\r=x",
        "' =x",
        "plain",
        "a=b",
    ]


def test_numbers_stay_numbers_and_types_are_written_plainly() -> None:
    df = pl.DataFrame(
        {
            "qty": [-2, 3, None],
            "amount": [-1.5, 2.25, None],
            "money": [Decimal("-3.40"), Decimal("10.00"), None],
            "day": [dt.date(2024, 3, 10), None, dt.date(2024, 3, 11)],
            "at": [dt.datetime(2024, 3, 10, 9, 15), None, dt.datetime(2024, 3, 10, 9, 15, 30)],
            "text": ['say "hi", ok', "line\nbreak", None],
        }
    ).with_columns(at_utc=pl.col("at").dt.replace_time_zone("UTC"))
    data = safe_csv_bytes(df)
    lines = data.decode("utf-8").split("\r\n")
    assert lines[0] == "qty,amount,money,day,at,text,at_utc"
    assert lines[1].startswith("-2,-1.5,-3.40,2024-03-10,2024-03-10T09:15:00,")
    rows = _rows(data)
    assert rows[1][5] == 'say "hi", ok'
    assert rows[2] == ["3", "2.25", "10.00", "", "", "line\nbreak", ""]
    assert rows[1][6] == "2024-03-10T09:15:00+00:00"
    assert rows[3][:2] == ["", ""]


def test_cards_in_text_are_redacted_and_header_is_defused() -> None:
    df = pl.DataFrame({"=cmd": ["card 4111 1111 1111 1111", "order 1234567812345678"]})
    rows = _rows(safe_csv_bytes(df))
    assert rows == [["'=cmd"], ["card [card ••••1111]"], ["order 1234567812345678"]]


def test_write_safe_csv_to_path_and_stream(tmp_path: Path) -> None:
    df = pl.DataFrame({"name": ["Zoë", None, "=x"], "n": [1, 2, 3]})
    target = tmp_path / "out" / "extract.csv"
    assert write_safe_csv(df, target) == 3
    assert target.read_bytes() == safe_csv_bytes(df)
    assert _rows(target.read_bytes()) == [["name", "n"], ["Zoë", "1"], ["", "2"], ["'=x", "3"]]
    stream = io.BytesIO()
    assert write_safe_csv(df, stream) == 3
    assert stream.getvalue() == target.read_bytes()
    assert list(tmp_path.joinpath("out").iterdir()) == [target]


def test_single_column_null_rows_are_not_lost() -> None:
    rows = _rows(safe_csv_bytes(pl.DataFrame({"note": ["a", None, "b"]})))
    assert len(rows) == 4
    assert safe_csv_bytes(pl.DataFrame({"note": []}, schema={"note": pl.String})) == b"note\r\n"
