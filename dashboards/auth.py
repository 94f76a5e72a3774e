"""Who is using the dashboard, and what they may open.

Two modes, chosen by ``ORDERLENS_AUTH`` (read at run time):

* ``local`` (default, the demo mode): a sign-in form checked against the users file
  (``Settings.users_file``, see :mod:`orderlens.users`). Only the username is kept, in this
  browser session's ``st.session_state`` (reloading the page signs out); name and role are
  read from the users file again on every run, so removing a user or changing a role takes
  effect at once.
* ``oidc`` (production): Streamlit's built-in OpenID Connect sign-in, ``st.login()`` /
  ``st.user``, configured in ``.streamlit/secrets.toml`` under ``[auth]`` (``redirect_uri``,
  ``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``). The identity
  provider proves who the visitor is; the role still comes from the users file, whose entry
  with a matching ``email`` key gives the role (an entry with an e-mail and no
  ``password_hash`` is an OIDC-only user, who can never use the local form). An e-mail without
  an entry gets no pages; so does everyone while the users file cannot be used.

Every page calls :func:`require_page` itself, so a page never renders for a role that may not
see it, whatever the navigation shows.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import streamlit as st

from orderlens.settings import Settings
from orderlens.users import Page, User, UsersFileError, authenticate, load_users
from orderlens.users import user_for_email as _find_by_email

SESSION_KEY = "orderlens_user"
_FAILURES_KEY = "orderlens_signin_failures"
_LOCKED_UNTIL_KEY = "orderlens_signin_locked_until"
MAX_FAILURES = 5
LOCKOUT_S = 30.0


def auth_mode() -> str:
    """``local`` or ``oidc`` (from ``ORDERLENS_AUTH``, read now)."""
    mode = os.environ.get("ORDERLENS_AUTH", "").strip().lower()
    return "oidc" if mode == "oidc" else "local"


def _store(user: User) -> None:
    # Only the username: name and role are looked up again on every run (see current_user).
    st.session_state[SESSION_KEY] = {"username": user.username}


def current_user() -> User | None:
    """The signed-in user of this session, or None."""
    if auth_mode() == "oidc":
        return _oidc_user()
    stored = st.session_state.get(SESSION_KEY)
    if not isinstance(stored, dict) or not isinstance(stored.get("username"), str):
        return None
    # Re-read the users file on every run: a removed user is signed out and a changed role
    # applies at once. An unreadable file signs everyone out rather than trusting the session.
    try:
        users = load_users(Settings.from_env().users_file)
    except UsersFileError:
        return None
    entry = users.get(stored["username"])
    return entry.user() if entry is not None else None


def require_page(page: Page) -> User:
    """The signed-in user if their role may open ``page``; otherwise stop the page here."""
    user = current_user()
    if user is None:
        st.warning("Please sign in.")
        st.stop()
    if page not in user.pages():
        st.error(f"Your role ({user.role}) does not give access to this page.")
        st.stop()
    return user


def sign_out() -> None:
    """Forget the signed-in user (``st.logout()`` in OIDC mode)."""
    for key in (SESSION_KEY, _FAILURES_KEY, _LOCKED_UNTIL_KEY):
        st.session_state.pop(key, None)
    if auth_mode() == "oidc":
        st.logout()


# --------------------------------------------------------------------------- local mode


def sign_in_form() -> None:
    """The sign-in form (the only thing a signed-out visitor sees)."""
    st.title("OrderLens")
    if auth_mode() == "oidc":
        _oidc_sign_in()
        return
    settings = Settings.from_env()
    st.caption("Sign in to see your order analytics.")
    locked_until = float(st.session_state.get(_LOCKED_UNTIL_KEY, 0.0))
    with st.form("sign_in", clear_on_submit=True):
        username = st.text_input("Username", key="signin_username", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="signin_password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if time.monotonic() < locked_until:
        st.error("Too many failed sign-ins. Wait 30 seconds and try again.")
        return
    if not settings.users_file.exists():
        st.error(
            f"No users file at {settings.users_file}. Create the demo users with `make demo` "
            "(or set ORDERLENS_USERS_FILE)."
        )
        return
    try:
        user = authenticate(settings.users_file, username, password)
    except UsersFileError as exc:
        st.error(f"The users file cannot be used: {exc}")
        return
    if user is None:
        failures = int(st.session_state.get(_FAILURES_KEY, 0)) + 1
        st.session_state[_FAILURES_KEY] = failures
        if failures >= MAX_FAILURES:
            st.session_state[_LOCKED_UNTIL_KEY] = time.monotonic() + LOCKOUT_S
            st.session_state[_FAILURES_KEY] = 0
        # One message for unknown user and wrong password: no hint which usernames exist.
        st.error("Unknown username or wrong password.")
        return
    st.session_state.pop(_FAILURES_KEY, None)
    st.session_state.pop(_LOCKED_UNTIL_KEY, None)
    _store(user)
    st.rerun()


# --------------------------------------------------------------------------- OIDC mode


def _oidc_sign_in() -> None:
    if st.user.is_logged_in:
        try:
            load_users(Settings.from_env().users_file)
        except UsersFileError as exc:
            st.error(f"The users file cannot be used, so no one has a role: {exc}")
            if st.button("Sign out"):
                st.logout()
            return
        st.error(
            f"{st.user.get('email') or 'This account'} has no OrderLens role. Ask an "
            "administrator to add your e-mail to the users file."
        )
        if st.button("Sign out"):
            st.logout()
        return
    st.caption("Sign in with your company account.")
    if importlib.util.find_spec("authlib") is None:
        st.error(
            "ORDERLENS_AUTH=oidc needs Authlib, which is not installed (add `streamlit[auth]` "
            "to the dependencies), and an `[auth]` section in .streamlit/secrets.toml."
        )
        return
    if st.button("Sign in", type="primary"):
        st.login()


def _oidc_user() -> User | None:
    if not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or "").strip().lower()
    if not email or st.user.get("email_verified") is False:
        return None
    return user_for_email(Settings.from_env().users_file, email)


def user_for_email(path: Path, email: str) -> User | None:
    """The users-file entry whose ``email`` key matches (case-insensitive), or None.

    Entries look like ``users: {alice: {name: ..., role: reviewer, email: alice@corp.example}}``;
    an entry used only through OIDC needs no ``password_hash``. The file is checked as in
    local mode (:func:`orderlens.users.load_users`): while it cannot be used, no one has a
    role.
    """
    try:
        users = load_users(path)
    except UsersFileError:
        return None
    return _find_by_email(users, email)
