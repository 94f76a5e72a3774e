"""OrderLens dashboard: ``streamlit run dashboards/streamlit_app.py``.

Reads only the published, read-only snapshot (``Settings.snapshot``) and the run log; never
the working warehouse and never the pipeline code.

Sign-in comes first: a signed-out visitor sees only the sign-in form and no data at all.

* **Production** uses Streamlit's OpenID Connect sign-in, ``st.login()`` / ``st.user``,
  configured in ``.streamlit/secrets.toml`` under ``[auth]`` (``redirect_uri``,
  ``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``) and switched on
  with ``ORDERLENS_AUTH=oidc``. The signed-in e-mail is mapped to a role through the users file
  (an entry's ``email`` key); an e-mail with no entry gets no pages.
* **Demo mode** (the default, ``ORDERLENS_AUTH`` unset or ``local``) checks a username and
  password against the local users file (``ORDERLENS_USERS_FILE``, default
  ``<home>/users.yaml``; ``make demo`` creates one user per role).

After sign-in, ``st.navigation`` lists the pages the role may see (``PAGES_BY_ROLE``; the
pages live in ``dashboards/app_pages/``), and each page checks the role again itself.
Settings are read on every run (``Settings.from_env()``), never at import.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import streamlit as st

from dashboards import auth, queries
from orderlens.settings import SettingsError
from orderlens.users import Page, User

_PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

# Page -> (file in app_pages/, title, icon); each page's URL is its ``Page`` value.
# (No bare string literals at module level here: Streamlit "magic" would render them.)
PAGE_SPECS: dict[Page, tuple[str, str, str]] = {
    Page.OVERVIEW: ("overview.py", "Overview", ":material/insights:"),
    Page.ORDERS: ("orders.py", "Orders", ":material/receipt_long:"),
    Page.INGESTION: ("ingestion.py", "Ingestion", ":material/move_to_inbox:"),
    Page.QUALITY: ("quality.py", "Data quality", ":material/rule:"),
}


def _signed_out_navigation() -> None:
    # One sign-in page under every page URL: whatever link a visitor opens, they get the
    # sign-in form, and after signing in the same URL resolves to the real page.
    pages = [
        st.Page(auth.sign_in_form, title="Sign in", url_path=page.value, default=i == 0)
        for i, page in enumerate(Page)
    ]
    st.navigation(pages, position="hidden").run()


def _sidebar(user: User) -> None:
    with st.sidebar:
        st.markdown(f"Signed in as **{user.display_name}** (`{user.username}`)")
        st.caption(f"Role: {user.role}")
        st.button("Sign out", on_click=auth.sign_out, icon=":material/logout:", key="sign_out")
        if queries.snapshot_problem() is None:
            tz = queries.timezone_name()
            st.caption(f"Data as of {queries.local_time(queries.published_at(), tz)}")
        else:
            st.caption("Data as of: nothing published yet")


def main() -> None:
    st.set_page_config(page_title="OrderLens", page_icon=":material/query_stats:", layout="wide")
    try:
        queries.settings()
    except SettingsError as exc:
        st.error(f"OrderLens is misconfigured: {exc}")
        st.stop()
    user = auth.current_user()
    if user is None:
        _signed_out_navigation()
        return
    pages = []
    for i, page in enumerate(user.pages()):
        file_name, title, icon = PAGE_SPECS[page]
        pages.append(
            st.Page(
                _PAGES_DIR / file_name, title=title, icon=icon, url_path=page.value, default=i == 0
            )
        )
    current = st.navigation(pages)
    _sidebar(user)
    try:
        current.run()
    except duckdb.Error as exc:
        # A snapshot from another release (missing table or column) or a damaged file: say so
        # instead of showing a traceback.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        st.error(
            f"The published snapshot could not be read ({type(exc).__name__}: {first_line}). "
            "Publish it again with `orderlens run`."
        )


if __name__ == "__main__":
    main()
