"""Who may sign in, what each role may see, and how passwords are kept.

Users live in one YAML file (``Settings.users_file``, mode 0600)::

    users:
      alice:
        name: Alice Example
        role: reviewer
        password_hash: scrypt$16384$8$1$<salt>$<hash>
        email: alice@corp.example      # optional: maps an OIDC sign-in to this entry
      bob:                             # OIDC-only: no password_hash, never signs in locally
        name: Bob Example
        role: analyst
        email: bob@corp.example

Passwords are stored only as scrypt hashes (stdlib ``hashlib.scrypt``). An entry needs a
``password_hash`` (local sign-in), an ``email`` (OIDC sign-in, see ``dashboards/auth.py``), or
both. Usernames and e-mails are case-insensitive: they are kept and looked up in lower case.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml


class Role(StrEnum):
    """What a signed-in user is allowed to do."""

    ANALYST = "analyst"
    REVIEWER = "reviewer"
    PLANNER = "planner"
    ADMIN = "admin"


class Page(StrEnum):
    """A page of the dashboard."""

    OVERVIEW = "overview"
    ORDERS = "orders"
    INGESTION = "ingestion"
    QUALITY = "quality"


# To add a page: add it to Page, then one line here naming the roles that see it.
_ROLES_BY_PAGE: dict[Page, frozenset[Role]] = {
    Page.OVERVIEW: frozenset(Role),
    Page.ORDERS: frozenset({Role.ANALYST, Role.REVIEWER, Role.ADMIN}),
    Page.INGESTION: frozenset({Role.ANALYST, Role.ADMIN}),
    Page.QUALITY: frozenset({Role.ANALYST, Role.REVIEWER, Role.ADMIN}),
}

PAGES_BY_ROLE: dict[Role, tuple[Page, ...]] = {
    role: tuple(page for page in Page if role in _ROLES_BY_PAGE.get(page, frozenset()))
    for role in Role
}
"""The pages each role sees, in the order of :class:`Page`."""

_PERSONAL_DATA_ROLES: frozenset[Role] = frozenset({Role.REVIEWER, Role.ADMIN})


def can_see_personal_data(role: Role) -> bool:
    """True when the role sees e-mail, phone, name, address and IP unmasked."""
    return role in _PERSONAL_DATA_ROLES


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    username: str
    display_name: str
    role: Role

    def pages(self) -> tuple[Page, ...]:
        """The pages this user may open."""
        return PAGES_BY_ROLE[self.role]

    def can_see_personal_data(self) -> bool:
        """True when personal columns are shown to this user unmasked."""
        return can_see_personal_data(self.role)


@dataclass(frozen=True)
class StoredUser:
    """A user as the users file records it.

    ``password_hash`` is None for an OIDC-only user (who can never sign in locally);
    ``email`` (lower case) is None for a user who cannot sign in through OIDC.
    """

    username: str
    display_name: str
    role: Role
    password_hash: str | None
    email: str | None = None

    def user(self) -> User:
        """The user without the password hash."""
        return User(self.username, self.display_name, self.role)


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file and the bad entry."""


# --------------------------------------------------------------------------- passwords

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 16_384, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32
_MAX_N = 1 << 20  # refuse absurd parameters from a tampered file (memory use grows with n)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash: ``scrypt$16384$8$1$<salt base64>$<hash base64>``."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _HASH_BYTES)
    salt_b64 = base64.b64encode(salt).decode()
    return (
        f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_b64}${base64.b64encode(digest).decode()}"
    )


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 16):
        return None
    if not salt or len(digest) < 16:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """True when the password matches the stored hash (compared in constant time)."""
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    try:
        candidate = _scrypt(password, salt, n, r, p, len(digest))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(candidate, digest)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


# --------------------------------------------------------------------------- users file


def _clean_username(username: str) -> str:
    return username.strip().lower()


def _read_raw(path: Path) -> dict[str, Any]:
    """The ``users`` mapping of the file, as written (empty when the file does not exist)."""
    if not path.exists():
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsersFileError(f"{path}: cannot read the users file ({exc})") from exc
    if document is None:
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("users", {}), dict):
        raise UsersFileError(
            f"{path}: expected a mapping "
            "`users: {<username>: {name, role, password_hash and/or email}}`"
        )
    return dict(document.get("users") or {})


def _clean_email(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsersFileError(f"{where}: email must be text, e.g. alice@corp.example")
    email = value.strip().lower()
    if not email:
        return None
    if "@" not in email or any(c.isspace() for c in email):
        raise UsersFileError(f"{where}: email {value!r} is not an e-mail address")
    return email


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def load_users(path: Path) -> dict[str, StoredUser]:
    """Read and check the users file; keys are lower-case usernames.

    Raises :class:`UsersFileError` naming the file and the entry when the file is missing or
    malformed, or an entry has an unknown role, a password hash that is not a usable scrypt
    hash, a malformed or repeated e-mail, or neither a password hash nor an e-mail. An entry
    with an e-mail and no password hash is an OIDC-only user.
    """
    if not path.exists():
        raise UsersFileError(
            f"{path}: the users file does not exist; create users first (`make demo` creates "
            "demo users)"
        )
    users: dict[str, StoredUser] = {}
    owners: dict[str, str] = {}  # e-mail -> username
    for key, entry in _read_raw(path).items():
        username = _clean_username(str(key))
        where = f"{path}: user {key!r}"
        if not username:
            raise UsersFileError(f"{where}: the username is blank")
        if username in users:
            raise UsersFileError(f"{where}: listed twice (usernames ignore case)")
        if not isinstance(entry, dict):
            raise UsersFileError(f"{where}: expected name, role and password_hash and/or email")
        role_text = str(entry.get("role", "")).strip().lower()
        try:
            role = Role(role_text)
        except ValueError:
            raise UsersFileError(
                f"{where}: unknown role {entry.get('role')!r}; use one of "
                f"{', '.join(r.value for r in Role)}"
            ) from None
        email = _clean_email(entry.get("email"), where)
        if email is not None:
            if email in owners:
                raise UsersFileError(
                    f"{where}: email {email!r} is also given to user {owners[email]!r}; an "
                    "e-mail must map to one user"
                )
            owners[email] = username
        password_hash = entry.get("password_hash")
        if _blank(password_hash):
            if email is None:
                raise UsersFileError(
                    f"{where}: password_hash is missing (a user who signs in only through "
                    "OIDC needs an email instead)"
                )
            password_hash = None  # OIDC-only: never signs in with a password
        elif not isinstance(password_hash, str) or _parse_hash(password_hash) is None:
            raise UsersFileError(
                f"{where}: password_hash is not a scrypt hash (never put a plain password in "
                "this file; set passwords with save_user)"
            )
        name = str(entry.get("name") or "").strip() or username
        users[username] = StoredUser(username, name, role, password_hash, email)
    return users


def user_for_email(users: Mapping[str, StoredUser], email: str) -> User | None:
    """The user whose ``email`` matches (ignoring case and surrounding blanks), or None."""
    wanted = email.strip().lower()
    if not wanted:
        return None
    for stored in users.values():
        if stored.email == wanted:
            return stored.user()
    return None


def authenticate(
    path_or_users: Path | str | Mapping[str, StoredUser], username: str, password: str
) -> User | None:
    """The user when the username and password match, else None.

    An unknown username, and an OIDC-only user (no password hash), cost the same hashing
    time as a wrong password, so timing does not tell which usernames exist.
    """
    if isinstance(path_or_users, Path | str):
        users = load_users(Path(path_or_users))
    else:
        users = path_or_users
    stored = users.get(_clean_username(username))
    if stored is None or stored.password_hash is None:
        verify_password(password, _dummy_hash())
        return None
    return stored.user() if verify_password(password, stored.password_hash) else None


def _write_raw(path: Path, users: Mapping[str, Any]) -> None:
    """Replace the users file atomically with a 0600 file holding ``users``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"users": dict(users)}, sort_keys=False, allow_unicode=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    staging = Path(name)  # mkstemp creates the file with mode 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _entry(name: str, role: Role | str, password: str) -> dict[str, str]:
    return {"name": name, "role": Role(role).value, "password_hash": hash_password(password)}


def save_user(path: Path, username: str, name: str, role: Role | str, password: str) -> None:
    """Add a user or replace one (name, role and password); other users are kept.

    A replaced user keeps the ``email`` of their entry (their OIDC sign-in), so setting a
    password for an OIDC-only user gives them local sign-in too. The file is created with
    mode 0600 if needed. Raises ValueError for a blank username, an unknown role or an empty
    password.
    """
    clean = _clean_username(username)
    if not clean:
        raise ValueError("the username is blank")
    entry: dict[str, str] = _entry(name.strip() or clean, role, password)
    users = {_clean_username(str(k)): v for k, v in _read_raw(path).items()}
    previous = users.get(clean)
    if isinstance(previous, dict) and isinstance(previous.get("email"), str):
        entry["email"] = previous["email"]
    users[clean] = entry
    _write_raw(path, users)


DEMO_PASSWORD = "orderlens-demo"
"""Password of the demo users; printed by ``make demo``."""

_DEMO_USERS: dict[str, tuple[str, Role]] = {
    "analyst": ("Demo Analyst", Role.ANALYST),
    "reviewer": ("Demo Reviewer", Role.REVIEWER),
    "planner": ("Demo Planner", Role.PLANNER),
    "admin": ("Demo Admin", Role.ADMIN),
}


def ensure_demo_users(path: Path) -> dict[str, str]:
    """Create the demo users (one per role) that do not exist yet; return their passwords.

    Returns ``{username: password}`` for the demo users that still sign in with the demo
    password; a demo user whose password was changed is left alone and not listed.
    """
    raw = {_clean_username(str(k)): v for k, v in _read_raw(path).items()}
    added = {u: _entry(n, r, DEMO_PASSWORD) for u, (n, r) in _DEMO_USERS.items() if u not in raw}
    if added:
        _write_raw(path, {**raw, **added})
    usable: dict[str, str] = {}
    for username in _DEMO_USERS:
        if username in added:
            usable[username] = DEMO_PASSWORD
            continue
        entry = raw.get(username)
        stored = entry.get("password_hash") if isinstance(entry, dict) else None
        if isinstance(stored, str) and verify_password(DEMO_PASSWORD, stored):
            usable[username] = DEMO_PASSWORD
    return usable
