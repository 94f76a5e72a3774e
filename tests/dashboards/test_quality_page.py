"""The Data quality page against a REAL published snapshot with quarantined orders.

The snapshot is built once per module by the real pipeline from the entry-accuracy
acceptance fixture (``tests/quality/fixtures``, laid out by
:func:`tests.quality.fixture_landing.publish_fixture`), which holds orders failing every rule.
Whatever the page shows is compared with SQL on that same snapshot, never with hard-coded
numbers. Two tests read a modified COPY of it (some held orders marked unpaid; the quality
tables dropped), never the snapshot itself.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import numpy as np
import pandas as pd
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.media_file_storage import MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from dashboards.app_pages.quality import EXPORT_LIMIT, FINDINGS_SHOWN, PAGE_SIZE, QUALITY_TABLES
from orderlens.users import Page, Role, save_user
from orderlens.warehouse import SnapshotReader
from tests.dashboards.test_app import all_text, page_alone
from tests.dashboards.test_published_demo import (
    PASSWORD,
    cents,
    open_page,
    sign_in,
    table_with,
)
from tests.quality.fixture_landing import personal_values, publish_fixture

pytestmark = pytest.mark.slow

TOP_RULES = {"reason_code", "severity", "family", "orders", "findings", "meaning"}
QUARANTINE = {"order_key", "paid", "error_codes"}
FINDINGS = {"order_key", "order_line", "reason_code", "message"}
PAYLOAD_LIMIT = 20_000
"""Bytes: the CSV of every table the page shows, together, for the fixture."""
FORMULA_START = re.compile(r"^\s*[=+\-@]")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Settings of the home whose snapshot the real pipeline published from the fixture."""
    return publish_fixture(tmp_path_factory.mktemp("quality_page"))


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One user per role (username = role), hashed once for the module."""
    path = tmp_path_factory.mktemp("quality-users") / "users.yaml"
    for role in Role:
        save_user(path, role.value, f"Quality {role.value.title()}", role, PASSWORD)
    return path


@dataclass(frozen=True)
class Env:
    """Points the dashboard's environment at a snapshot (the run log and home are private)."""

    users_file: Path
    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch

    def use(self, snapshot: Path) -> SnapshotReader:
        self.monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(snapshot))
        return SnapshotReader(snapshot)

    def copy_of(self, snapshot: Path, name: str, *statements: str) -> Path:
        """A copy of ``snapshot`` with ``statements`` run on it."""
        target = self.tmp_path / name / snapshot.name
        target.parent.mkdir()
        shutil.copy(snapshot, target)
        con = duckdb.connect(str(target))
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
        return target


@pytest.fixture
def env(users_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("ORDERLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORDERLENS_USERS_FILE", str(users_file))
    monkeypatch.setenv("ORDERLENS_STATE", str(state))
    for name in ("ORDERLENS_AUTH", "ORDERLENS_TIMEZONE", "ORDERLENS_REPORTING_CURRENCY"):
        monkeypatch.delenv(name, raising=False)
    return Env(users_file, tmp_path, monkeypatch)


@pytest.fixture
def snapshot(published: Any, env: Env) -> Iterator[SnapshotReader]:
    """The dashboard reads the fixture's published snapshot, which no test may change."""
    path = Path(published.snapshot)
    before = path.stat().st_mtime_ns, path.stat().st_size
    yield env.use(path)
    assert (path.stat().st_mtime_ns, path.stat().st_size) == before, "the snapshot was written"


class _RecordingStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media storage, kept after the run so downloads can be read."""

    instances: ClassVar[list[MemoryMediaFileStorage]] = []

    def __init__(self, media_endpoint: str) -> None:
        super().__init__(media_endpoint)
        _RecordingStorage.instances.append(self)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the media storage of every AppTest run (AppTest drops it after the run)."""
    _RecordingStorage.instances.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", _RecordingStorage)
    yield
    _RecordingStorage.instances.clear()


def download_bytes(at: AppTest, key: str) -> bytes:
    """The bytes the download button ``key`` of the last run would send."""
    url = at.download_button(key=key).proto.url
    assert url, f"{key}: no data"
    for storage in reversed(_RecordingStorage.instances):
        try:
            return storage.get_file(url.rsplit("/", 1)[-1]).content
        except MediaFileStorageError:  # another run's storage
            continue
    raise AssertionError(f"{key}: {url} is in no recorded media storage")


# --------------------------------------------------------------------------- helpers


def quality_page(role: Role) -> AppTest:
    return open_page(sign_in(role), Page.QUALITY)


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value (NaN/NA as None, numpy scalars unwrapped)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


def rows(frame: pd.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v) for v in row) for row in frame[list(columns)].itertuples(index=False)]


def shown_orders(at: AppTest) -> list[str]:
    return list(table_with(at, QUARANTINE)["order_key"])


def expected_orders(snap: SnapshotReader, where: str = "TRUE", params: Any = None) -> list[str]:
    """The held orders matching ``where``, in the page's order (newest order day first)."""
    return snap.query(
        f"SELECT order_key FROM quality_quarantine WHERE {where} "
        "ORDER BY order_date DESC, order_key",
        params,
    )["order_key"].to_list()


def findings_rows(snap: SnapshotReader, order_keys: list[str]) -> Counter[tuple[Any, ...]]:
    frame = snap.query(
        "SELECT order_key, line_number, reason_code, severity, column_name, message, line "
        "FROM quality_findings WHERE list_contains(?::VARCHAR[], order_key)",
        [order_keys],
    )
    return Counter(frame.rows())


def shown_findings(at: AppTest) -> Counter[tuple[Any, ...]]:
    table = table_with(at, FINDINGS)
    columns = ("order_key", "order_line", "reason_code", "severity", "column", "message", "line")
    return Counter(
        (key, None if line_number is None else int(line_number), *rest)
        for key, line_number, *rest in rows(table, *columns)
    )


def assert_browser_matches(
    at: AppTest, snap: SnapshotReader, expected: list[str], page: int = 1
) -> None:
    """The quarantine browser holds exactly ``expected`` (in order): its counts are theirs,
    its table shows page ``page`` of them and the findings table below every finding of the
    orders on that page."""
    assert not at.exception, [e.value for e in at.exception]
    if not expected:
        assert "No quarantined orders match these filters." in [i.value for i in at.info]
        assert not [d for d in at.dataframe if set(d.value.columns) >= QUARANTINE]
        return
    on_page = expected[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    assert shown_orders(at) == on_page
    paid = snap.query(
        "SELECT count(*) FILTER (WHERE is_paid) FROM quality_quarantine "
        "WHERE list_contains(?::VARCHAR[], order_key)",
        [expected],
    ).item()
    captions = [c.value for c in at.caption]
    assert f"{len(expected):,} order(s) · {paid:,} paid" in captions
    first = (page - 1) * PAGE_SIZE + 1
    assert f"Orders {first:,} to {first + len(on_page) - 1:,} of {len(expected):,}" in captions
    assert len(at.number_input) == (1 if len(expected) > PAGE_SIZE else 0)
    findings = findings_rows(snap, on_page)
    assert sum(findings.values()) <= FINDINGS_SHOWN, "the fixture's pages show every finding"
    assert shown_findings(at) == findings


def csv_cells(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a downloaded CSV."""
    text = data.decode("utf-8")
    assert not text.startswith("\ufeff")
    header, *body = list(csv.reader(io.StringIO(text)))
    return header, body


def assert_formula_safe(data: bytes, numeric: set[str]) -> None:
    """No text cell a spreadsheet would run as a formula; numbers stay plain numbers."""
    header, body = csv_cells(data)
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if FORMULA_START.match(cell):
                assert name in numeric, (name, cell)
                float(cell)  # a plain (negative) number, not text


# --------------------------------------------------------------------------- headline, rules


def test_headline_metrics_equal_sql(snapshot: SnapshotReader) -> None:
    staged, flagged, quarantined, paid = snapshot.query(
        "SELECT (SELECT count(*) FROM stg_orders), "
        "(SELECT count(DISTINCT order_key) FROM quality_findings), "
        "(SELECT count(*) FROM quality_quarantine), "
        "(SELECT count(*) FILTER (WHERE is_paid) FROM quality_quarantine)"
    ).row(0)
    assert staged > flagged > quarantined > 0 and paid > 0
    at = quality_page(Role.ANALYST)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Orders checked": f"{staged:,}",  # every staged order is checked
        "Orders with a finding": f"{flagged:,}",
        "Orders quarantined": f"{quarantined:,}",
        "Quarantined and paid": f"{paid:,}",
    }
    # The trend chart renders; narrowing it to one rule says so.
    assert at.get("vega_lite_chart")
    code = snapshot.query("SELECT min(reason_code) FROM quality_findings").item()
    at.multiselect(key="trend_codes").set_value([code]).run()
    assert not at.exception and not at.error
    assert "Share of each day's orders with no finding of the chosen rules." in [
        c.value for c in at.caption
    ]


def test_top_failing_rules_equal_sql(snapshot: SnapshotReader) -> None:
    expected = snapshot.query(
        "SELECT reason_code, severity, family, count(DISTINCT order_key) AS orders, "
        "count(*) AS findings, string_agg(DISTINCT channel, ', ' ORDER BY channel) AS channels "
        "FROM quality_findings GROUP BY ALL"
    )
    assert expected.height > 1
    at = quality_page(Role.ANALYST)
    table = table_with(at, TOP_RULES)
    columns = ("reason_code", "severity", "family", "orders", "findings", "channels")
    assert sorted(rows(table, *columns)) == sorted(expected.rows())
    # Most orders first; every code explained in words.
    assert list(table["orders"]) == sorted(table["orders"], reverse=True)
    assert all(m and m != c for m, c in zip(table["meaning"], table["reason_code"], strict=True))


# --------------------------------------------------------------------------- quarantine browser


def test_quarantine_browser_lists_exactly_the_held_orders(snapshot: SnapshotReader) -> None:
    held = snapshot.query(
        "SELECT order_key, source, channel, CAST(order_date AS VARCHAR), currency, total, "
        "is_paid, errors, warnings, array_to_string(error_codes, ', '), file_name, line "
        "FROM quality_quarantine ORDER BY order_date DESC, order_key"
    )
    assert PAGE_SIZE < held.height <= EXPORT_LIMIT, "the fixture holds several pages of orders"
    at = quality_page(Role.ANALYST)
    everything = expected_orders(snapshot)
    assert_browser_matches(at, snapshot, everything)
    table = table_with(at, QUARANTINE)
    shown = [
        (*r[:3], str(r[3])[:10], r[4], cents(r[5]), *r[6:])
        for r in rows(
            table,
            "order_key",
            "source",
            "channel",
            "order_date",
            "currency",
            "total",
            "paid",
            "errors",
            "warnings",
            "error_codes",
            "file",
            "line",
        )
    ]
    assert shown == [(*r[:5], cents(r[5]), *r[6:]) for r in held.rows()[:PAGE_SIZE]]
    # Every page in turn, and the last one holds the rest.
    pages = -(-len(everything) // PAGE_SIZE)
    for page in range(2, pages + 1):
        at.number_input(key="q_page").set_value(page).run()
        assert_browser_matches(at, snapshot, everything, page)
    # A filter that leaves one page puts the browser back on it.
    at.toggle(key="q_paid").set_value(True).run()
    at.text_input(key="q_search").input(everything[0].split(":")[-1]).run()
    assert_browser_matches(
        at,
        snapshot,
        expected_orders(
            snapshot, "is_paid AND order_key ILIKE ?", [f"%{everything[0].split(':')[-1]}%"]
        ),
    )
    # The error filter offers exactly the codes that hold an order.
    codes = snapshot.query(
        "SELECT DISTINCT unnest(error_codes) AS c FROM quality_quarantine ORDER BY 1"
    )["c"].to_list()
    assert at.multiselect(key="q_codes").options == [
        at.multiselect(key="q_codes").format_func(c) for c in codes
    ]


def test_filters_narrow_the_quarantine_as_sql_does(snapshot: SnapshotReader) -> None:
    everything = expected_orders(snapshot)
    # The most frequent error code, and the channel with the fewest held orders.
    code = snapshot.query(
        "SELECT c FROM (SELECT unnest(error_codes) AS c FROM quality_quarantine) "
        "GROUP BY c ORDER BY count(*) DESC, c LIMIT 1"
    ).item()
    channel = snapshot.query(
        "SELECT channel FROM quality_quarantine GROUP BY channel ORDER BY count(*), channel LIMIT 1"
    ).item()
    at = quality_page(Role.ANALYST)

    at.multiselect(key="q_codes").set_value([code]).run()
    by_code = expected_orders(snapshot, "list_contains(error_codes, ?)", [code])
    assert 0 < len(by_code) < len(everything)
    assert_browser_matches(at, snapshot, by_code)

    at.multiselect(key="q_codes").set_value([]).run()
    at.multiselect(key="q_channels").set_value([channel]).run()
    by_channel = expected_orders(snapshot, "channel = ?", [channel])
    assert 0 < len(by_channel) < len(everything)
    assert_browser_matches(at, snapshot, by_channel)

    at.toggle(key="q_paid").set_value(True).run()
    assert_browser_matches(
        at, snapshot, expected_orders(snapshot, "channel = ? AND is_paid", [channel])
    )

    at.multiselect(key="q_channels").set_value([]).run()
    assert_browser_matches(at, snapshot, expected_orders(snapshot, "is_paid"))

    at.multiselect(key="q_codes").set_value([code]).run()
    assert_browser_matches(
        at, snapshot, expected_orders(snapshot, "is_paid AND list_contains(error_codes, ?)", [code])
    )

    at.toggle(key="q_paid").set_value(False).run()
    at.multiselect(key="q_codes").set_value([]).run()
    assert_browser_matches(at, snapshot, everything)

    # The order-key search: a part of one key, in lower case.
    part = everything[-1].split(":")[-1].lower()
    at.text_input(key="q_search").input(part).run()
    found = expected_orders(snapshot, "order_key ILIKE ?", [f"%{part}%"])
    assert 0 < len(found) < len(everything)
    assert_browser_matches(at, snapshot, found)


def test_paid_only_leaves_out_unpaid_held_orders(published: Any, env: Env) -> None:
    # Every held order of the fixture is paid, so on a copy some are marked unpaid.
    copy = env.copy_of(
        Path(published.snapshot),
        "some_unpaid",
        "UPDATE quality_quarantine SET is_paid = false WHERE order_key IN "
        "(SELECT order_key FROM quality_quarantine ORDER BY order_key LIMIT 5)",
    )
    snap = env.use(copy)
    paid = expected_orders(snap, "is_paid")
    everything = expected_orders(snap)
    assert 0 < len(paid) < len(everything)
    at = quality_page(Role.ANALYST)
    assert {m.label: m.value for m in at.metric}["Quarantined and paid"] == f"{len(paid):,}"
    assert_browser_matches(at, snap, everything)
    at.toggle(key="q_paid").set_value(True).run()
    assert_browser_matches(at, snap, paid)


# --------------------------------------------------------------------------- personal data


def _personal_findings(snap: SnapshotReader) -> list[tuple[str, str, str]]:
    """(order key, reason code, offending value) of the e-mail and phone findings of held
    orders."""
    return snap.query(
        "SELECT order_key, reason_code, value FROM quality_findings "
        "WHERE (reason_code LIKE 'EMAIL%' OR reason_code LIKE 'PHONE%') AND value IS NOT NULL "
        "AND order_key IN (SELECT order_key FROM quality_quarantine) ORDER BY ALL"
    ).rows()


def test_analyst_never_sees_offending_values(snapshot: SnapshotReader, downloads: None) -> None:
    personal = _personal_findings(snapshot)
    assert personal, "the fixture holds an order with an invalid e-mail or phone"
    secrets = personal_values()
    at = quality_page(Role.ANALYST)
    assert all("value" not in d.value.columns for d in at.dataframe)
    assert "Offending values are hidden for your role (they can be personal data)." in [
        c.value for c in at.caption
    ]
    text = "\n".join(
        [
            all_text(at),
            download_bytes(at, "q_csv").decode("utf-8"),
            download_bytes(at, "qf_csv").decode("utf-8"),
        ]
    )
    assert not {s for s in secrets if s in text}
    cells = {str(_plain(v)) for d in at.dataframe for v in d.value.to_numpy().ravel()}
    assert not {value for _, _, value in personal} & cells


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ADMIN], ids=lambda r: r.value)
def test_reviewer_and_admin_see_offending_values(snapshot: SnapshotReader, role: Role) -> None:
    at = quality_page(role)
    table = table_with(at, FINDINGS)
    assert "value" in table.columns
    # Page by page, the browser shows every offending value of the held orders.
    shown = set(rows(table, "order_key", "reason_code", "value"))
    pages = -(-len(expected_orders(snapshot)) // PAGE_SIZE)
    for page in range(2, pages + 1):
        at.number_input(key="q_page").set_value(page).run()
        shown |= set(rows(table_with(at, FINDINGS), "order_key", "reason_code", "value"))
    personal = _personal_findings(snapshot)
    assert set(personal) <= shown
    at.number_input(key="q_page").set_value(1).run()
    table = table_with(at, FINDINGS)
    # e.g. an invalid e-mail address as the fixture typed it.
    emails = [value for _, code, value in personal if code == "EMAIL_INVALID"]
    assert emails and any(e in personal_values() for e in emails)
    # The value column holds exactly what the snapshot holds for the orders shown.
    keys = list(table_with(at, QUARANTINE)["order_key"])
    expected = snapshot.query(
        "SELECT order_key, reason_code, value FROM quality_findings "
        "WHERE list_contains(?::VARCHAR[], order_key)",
        [keys],
    )
    assert Counter(rows(table, "order_key", "reason_code", "value")) == Counter(expected.rows())
    assert "Offending values are hidden" not in all_text(at)


def test_planner_cannot_open_the_page(snapshot: SnapshotReader) -> None:
    at = sign_in(Role.PLANNER)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"app_pages/{Page.QUALITY.value}.py")
    # The page itself refuses the role too (its URL opened directly).
    direct = page_alone(Page.QUALITY.value, Role.PLANNER.value)
    assert any("does not give access" in e.value for e in direct.error)
    assert not direct.dataframe and not direct.metric


# --------------------------------------------------------------------------- older snapshots


def test_snapshot_without_quality_tables_says_so(published: Any, env: Env) -> None:
    copy = env.copy_of(
        Path(published.snapshot),
        "no_quality",
        *(f"DROP TABLE {table}" for table in QUALITY_TABLES),
    )
    snap = env.use(copy)
    assert not snap.query(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'quality_%' "
        "AND table_name IN ('quality_findings', 'quality_quarantine', 'quality_daily')"
    ).height
    at = quality_page(Role.ADMIN)  # no exception, no error, the page's title
    assert not at.dataframe and not at.metric and not at.download_button
    [info] = [i.value for i in at.info]
    assert "This snapshot has no entry-accuracy results" in info
    assert all(table in info for table in QUALITY_TABLES)


# --------------------------------------------------------------------------- downloads, size


def test_csv_downloads_hold_every_matching_order_and_are_formula_safe(
    snapshot: SnapshotReader, downloads: None
) -> None:
    at = quality_page(Role.REVIEWER)
    assert [b.label for b in at.download_button] == [
        "Download quarantine CSV",
        "Download findings CSV",
    ]
    quarantine = table_with(at, QUARANTINE)
    header, body = csv_cells(download_bytes(at, "q_csv"))
    assert header == list(quarantine.columns)
    everything = expected_orders(snapshot)
    assert len(everything) > len(quarantine)  # more than the page shown
    assert [r[0] for r in body] == everything
    assert_formula_safe(download_bytes(at, "q_csv"), {"total", "errors", "warnings", "line"})

    findings = table_with(at, FINDINGS)
    data = download_bytes(at, "qf_csv")
    header, body = csv_cells(data)
    assert header == list(findings.columns)
    assert len(body) == sum(findings_rows(snapshot, everything).values())
    assert_formula_safe(data, {"order_line", "line"})
    # An offending value a spreadsheet would run (a negative quantity typed as text) is
    # defused with a leading apostrophe, not dropped.
    risky = {
        value
        for value in snapshot.query(
            "SELECT value FROM quality_findings WHERE list_contains(?::VARCHAR[], order_key)",
            [everything],
        )["value"].to_list()
        if value and FORMULA_START.match(value)
    }
    assert risky, "the fixture holds a held order with an offending value like '-1'"
    values = [row[header.index("value")] for row in body]
    for value in risky:
        assert "'" + value in values and value not in values


@pytest.mark.parametrize("role", [Role.ANALYST, Role.REVIEWER, Role.ADMIN], ids=lambda r: r.value)
def test_page_payload_stays_small(snapshot: SnapshotReader, role: Role) -> None:
    at = quality_page(role)
    assert len(at.dataframe) == 3
    assert all(len(d.value) <= max(PAGE_SIZE, FINDINGS_SHOWN) for d in at.dataframe)
    size = sum(len(d.value.to_csv(index=False).encode("utf-8")) for d in at.dataframe)
    assert size < PAYLOAD_LIMIT, size
