"""Card numbers redacted in the statement that writes a parser's rows
(``pipelines.sources.generic.redacted_rows_sql`` inside ``card_redaction``)."""

from __future__ import annotations

import duckdb
import pytest

from orderlens.security import redact_card_numbers
from pipelines.sources.generic import REDACT_FUNCTION, card_redaction, redacted_rows_sql

CARDS = ("4539 1488 0343 6467", "5555-5555-5555-4444", "378282246310005")


def test_rows_keep_their_order_columns_and_nulls_and_every_card_is_counted_once() -> None:
    con = duckdb.connect()
    con.execute("SET threads = 4")
    rows = 200_000
    # Every 97th row has a card in `note`, every 89th one in `name` too; ids stay as they are.
    con.execute(
        f"""CREATE TEMP TABLE src AS SELECT i,
        CASE WHEN i % 97 = 0 THEN 'card ' || ['{CARDS[0]}', '{CARDS[1]}'][i % 2 + 1]
             WHEN i % 5 = 0 THEN NULL ELSE 'note ' || i END AS note,
        CASE WHEN i % 89 = 0 THEN 'Ana {CARDS[2]}' ELSE 'Ana' END AS name,
        '4111111111111111' AS id
        FROM range({rows}) t(i)"""
    )
    query = "SELECT i, note, name, id FROM src ORDER BY i DESC"
    with card_redaction(con) as redaction:
        con.execute(f"CREATE TABLE t AS {redacted_rows_sql(query, ['note', 'name'])}")
    assert [c[0] for c in con.execute("DESCRIBE t").fetchall()] == ["i", "note", "name", "id"]
    assert [r[0] for r in con.execute("SELECT i FROM t").fetchall()] == list(range(rows))[::-1]
    changed = con.execute(
        "SELECT s.note, s.name, t.note, t.name FROM src s JOIN t USING (i) "
        "WHERE s.note IS DISTINCT FROM t.note OR s.name <> t.name OR s.id <> t.id"
    ).fetchall()
    assert len(changed) == len(set(range(0, rows, 97)) | set(range(0, rows, 89)))
    for note, name, stored_note, stored_name in changed:
        assert (stored_note, stored_name) == (
            redact_card_numbers(note)[0],
            redact_card_numbers(name)[0],
        )
    cards = len(range(0, rows, 97)) + len(range(0, rows, 89))
    assert redaction.count == cards
    stored = con.execute(
        "SELECT count(*) FILTER (note LIKE '%[card ••••%'), count(*) FILTER (name LIKE "
        "'%[card ••••0005]'), count(*) FILTER (id = '4111111111111111') FROM t"
    ).fetchall()[0]
    assert stored == (len(range(0, rows, 97)), len(range(0, rows, 89)), rows)


def test_a_kept_flag_marks_the_candidate_rows_and_the_function_is_gone_afterwards() -> None:
    con = duckdb.connect()
    query = "SELECT * FROM (VALUES ('a 4539148803436467'), ('12 34'), (NULL)) v(note)"
    with card_redaction(con) as redaction:
        rows = con.execute(redacted_rows_sql(query, ["note"], "_maybe")).fetchall()
        unflagged = con.execute(redacted_rows_sql(query, [], "_maybe")).fetchall()
    assert rows == [("a [card ••••6467]", True), ("12 34", False), (None, False)]
    assert unflagged == [("a 4539148803436467", False), ("12 34", False), (None, False)]
    assert redaction.count == 1
    assert redacted_rows_sql(query, []) == query
    with pytest.raises(duckdb.CatalogException):
        con.execute(f"SELECT {REDACT_FUNCTION}('x')")
