"""Roles, pages, password hashing and the users file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from orderlens.users import (
    DEMO_PASSWORD,
    PAGES_BY_ROLE,
    Page,
    Role,
    User,
    UsersFileError,
    authenticate,
    can_see_personal_data,
    ensure_demo_users,
    hash_password,
    load_users,
    save_user,
    user_for_email,
    verify_password,
)


def test_pages_and_personal_data_by_role() -> None:
    assert all(Page.OVERVIEW in pages for pages in PAGES_BY_ROLE.values())
    assert set(PAGES_BY_ROLE) == set(Role)
    assert PAGES_BY_ROLE[Role.ANALYST] == (
        Page.OVERVIEW,
        Page.ORDERS,
        Page.INGESTION,
        Page.QUALITY,
    )
    assert PAGES_BY_ROLE[Role.REVIEWER] == (Page.OVERVIEW, Page.ORDERS, Page.QUALITY)
    assert PAGES_BY_ROLE[Role.PLANNER] == (Page.OVERVIEW,)
    assert PAGES_BY_ROLE[Role.ADMIN] == (
        Page.OVERVIEW,
        Page.ORDERS,
        Page.INGESTION,
        Page.QUALITY,
    )
    assert [r for r in Role if can_see_personal_data(r)] == [Role.REVIEWER, Role.ADMIN]
    assert User("p", "P", Role.PLANNER).pages() == (Page.OVERVIEW,)


def test_password_round_trip() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert len(stored.split("$")) == 6
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("correct horse", "plain-text")
    assert hash_password("correct horse") != stored  # salted
    with pytest.raises(ValueError):
        hash_password("")


def test_save_load_and_authenticate(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "users.yaml"
    save_user(path, "Alice", "Alice Example", Role.REVIEWER, "s3cret-pass")
    save_user(path, "bob", "Bob", "planner", "other-pass")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "s3cret-pass" not in path.read_text()
    users = load_users(path)
    assert set(users) == {"alice", "bob"}
    assert users["alice"].role is Role.REVIEWER
    assert authenticate(path, "alice", "s3cret-pass") == User(
        "alice", "Alice Example", Role.REVIEWER
    )
    assert authenticate(users, " ALICE ", "s3cret-pass") is not None
    assert authenticate(path, "alice", "wrong") is None
    assert authenticate(path, "nobody", "s3cret-pass") is None
    save_user(path, "bob", "Robert", Role.ADMIN, "new-pass")  # updates in place
    assert authenticate(path, "bob", "other-pass") is None
    assert authenticate(path, "bob", "new-pass") == User("bob", "Robert", Role.ADMIN)
    assert set(load_users(path)) == {"alice", "bob"}
    with pytest.raises(ValueError):
        save_user(path, "carol", "Carol", "superuser", "x-pass")


def _write(path: Path, users: object) -> Path:
    path.write_text(yaml.safe_dump({"users": users}))
    return path


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ({"eve": {"role": "boss", "password_hash": "x"}}, "'eve': unknown role 'boss'"),
        ({"eve": {"role": "analyst"}}, "'eve': password_hash is missing"),
        ({"eve": {"role": "analyst", "password_hash": "hunter2"}}, "'eve': password_hash is not"),
        # A present hash is checked even when an e-mail would make the entry OIDC-only.
        (
            {"eve": {"role": "analyst", "email": "eve@corp.example", "password_hash": "hunter2"}},
            "'eve': password_hash is not",
        ),
        ({"eve": {"role": "analyst", "email": "eve"}}, "'eve': email 'eve' is not an e-mail"),
        ({"eve": {"role": "analyst", "email": ["e@x.example"]}}, "'eve': email must be text"),
        (
            {
                "eve": {"role": "analyst", "email": "e@corp.example"},
                "mallory": {"role": "admin", "email": " E@Corp.example"},
            },
            "'mallory': email 'e@corp.example' is also given to user 'eve'",
        ),
        ({"eve": "analyst"}, "'eve': expected name, role and password_hash"),
    ],
)
def test_users_file_errors_name_file_and_entry(tmp_path: Path, users: object, message: str) -> None:
    path = _write(tmp_path / "users.yaml", users)
    with pytest.raises(UsersFileError, match=message) as caught:
        load_users(path)
    assert str(path) in str(caught.value)


def test_missing_or_broken_users_file(tmp_path: Path) -> None:
    with pytest.raises(UsersFileError, match="does not exist"):
        load_users(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("users: [unclosed")
    with pytest.raises(UsersFileError, match=r"broken\.yaml"):
        load_users(broken)
    with pytest.raises(UsersFileError):
        save_user(broken, "x", "X", Role.ANALYST, "pass-word")  # never overwrites a broken file
    assert broken.read_text() == "users: [unclosed"


def test_demo_users_are_created_once(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    first = ensure_demo_users(path)
    assert first == {name: DEMO_PASSWORD for name in ("analyst", "reviewer", "planner", "admin")}
    content = path.read_text()
    assert DEMO_PASSWORD not in content
    assert ensure_demo_users(path) == first
    assert path.read_text() == content  # nothing rewritten
    assert {name: u.role for name, u in load_users(path).items()} == {r.value: r for r in Role}
    assert authenticate(path, "planner", DEMO_PASSWORD) == User(
        "planner", "Demo Planner", Role.PLANNER
    )
    save_user(path, "admin", "Admin", Role.ADMIN, "changed-password")
    assert set(ensure_demo_users(path)) == {"analyst", "reviewer", "planner"}
    assert authenticate(path, "admin", "changed-password") is not None


def _mixed_users_file(path: Path) -> Path:
    """Two local users (one also with an e-mail) and one OIDC-only user."""
    save_user(path, "alice", "Alice Example", Role.REVIEWER, "alice-pass")
    save_user(path, "carol", "Carol", Role.PLANNER, "carol-pass")
    document = yaml.safe_load(path.read_text())
    document["users"]["alice"]["email"] = "Alice@Corp.example"
    document["users"]["Bob"] = {"name": "Bob OIDC", "role": "analyst", "email": "bob@corp.example"}
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_file_mixing_local_and_oidc_only_users_loads(tmp_path: Path) -> None:
    path = _mixed_users_file(tmp_path / "users.yaml")
    users = load_users(path)
    assert set(users) == {"alice", "bob", "carol"}
    assert users["bob"].password_hash is None
    assert users["bob"].email == "bob@corp.example"
    assert users["alice"].email == "alice@corp.example"
    assert users["carol"].email is None
    # Local sign-in is unaffected for the users with a password.
    assert authenticate(path, "alice", "alice-pass") == User(
        "alice", "Alice Example", Role.REVIEWER
    )
    assert authenticate(path, "carol", "carol-pass") == User("carol", "Carol", Role.PLANNER)
    # E-mail lookup (what OIDC mode uses) ignores case and blanks.
    assert user_for_email(users, " BOB@corp.example ") == User("bob", "Bob OIDC", Role.ANALYST)
    assert user_for_email(users, "alice@corp.example") == User(
        "alice", "Alice Example", Role.REVIEWER
    )
    assert user_for_email(users, "carol@corp.example") is None
    assert user_for_email(users, "") is None


def test_an_oidc_only_user_never_signs_in_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orderlens.users as users_module

    path = _mixed_users_file(tmp_path / "users.yaml")
    users = load_users(path)
    hashed: list[str] = []
    real_verify = users_module.verify_password

    def spy(password: str, stored: str) -> bool:
        hashed.append(stored)
        return real_verify(password, stored)

    monkeypatch.setattr(users_module, "verify_password", spy)
    dummy = users_module._dummy_hash()
    for password in ("", "alice-pass", "carol-pass", "bob", "bob@corp.example", dummy, "None"):
        hashed.clear()
        assert authenticate(users, "bob", password) is None
        assert authenticate(path, " BOB ", password) is None
        # Still one scrypt hash per attempt, as for an unknown user or a wrong password.
        assert hashed == [dummy, dummy]


def test_setting_a_password_keeps_the_email(tmp_path: Path) -> None:
    path = _mixed_users_file(tmp_path / "users.yaml")
    save_user(path, "BOB", "Bob", Role.ADMIN, "bob-local-pass")
    users = load_users(path)
    assert users["bob"].email == "bob@corp.example"
    assert authenticate(users, "bob", "bob-local-pass") == User("bob", "Bob", Role.ADMIN)
    assert user_for_email(users, "bob@corp.example") == User("bob", "Bob", Role.ADMIN)
