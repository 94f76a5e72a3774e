"""A real browser against the real dashboard server, started as `make demo` starts it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orderlens.users import DEMO_PASSWORD, ensure_demo_users
from orderlens.warehouse import SnapshotReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _chromium() -> str:
    for candidate in (
        os.environ.get("ORDERLENS_CHROMIUM"),
        shutil.which("chromium"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(published_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`orderlens dashboard` on a free port, reading the session's published snapshot.

    Users and run state live in a home of the test's own: the shared warehouse stays
    read-only.
    """
    own = tmp_path_factory.mktemp("dashboard-home")
    ensure_demo_users(own / "users.yaml")
    if published_demo.run_log.exists():
        shutil.copyfile(published_demo.run_log, own / "runs.sqlite")
    port = _free_port()
    env = {
        **os.environ,
        "ORDERLENS_HOME": str(own),
        "ORDERLENS_USERS_FILE": str(own / "users.yaml"),
        "ORDERLENS_STATE": str(own),
        "ORDERLENS_SNAPSHOT": str(published_demo.snapshot),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "dashboard",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"dashboard did not start: {process.stdout.read() if process.stdout else ''}")
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_chromium(),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_signed_out_visitor_sees_only_the_sign_in(server: str, browser) -> None:
    page = browser.new_page()
    page.goto(server)
    page.get_by_label("Username").wait_for(timeout=30_000)
    assert page.locator('[data-testid="kpi-orders"]').count() == 0
    body = page.inner_text("body")
    assert "Revenue" not in body and "online_store" not in body
    page.close()


def test_overview_kpis_equal_sql_on_the_snapshot(server: str, browser, published_demo) -> None:
    page = browser.new_page()
    _sign_in(page, server, "analyst")
    orders = page.locator('[data-testid="kpi-orders"]')
    orders.wait_for(timeout=30_000)
    expected = (
        SnapshotReader(published_demo.snapshot)
        .query(
            "SELECT count(*) AS orders, round(sum(total_reporting), 2) AS revenue FROM fct_orders"
        )
        .row(0, named=True)
    )
    assert int(orders.inner_text()) == expected["orders"]
    revenue = page.locator('[data-testid="kpi-revenue"]').inner_text()
    assert Decimal(revenue) == Decimal(str(expected["revenue"])).quantize(Decimal("0.01"))
    page.close()
