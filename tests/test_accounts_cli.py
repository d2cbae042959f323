"""`liberry user ...` / `liberry team ...` as an operator runs them: subprocesses on the data
dir of a server that is running, whose answers change on the very next request. Also the
key-hash migration of older stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from liberry.server import ServerHandle, start
from liberry.server.store import Store, accounts
from liberry.server.store import tables as t
from liberry.server.store.db import sqlite_url
from tests.wire import Wire

PG_URL = os.environ.get("LIBERRY_TEST_POSTGRES_URL")  # a scratch database, emptied first


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "liberry.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    with start(data_dir=tmp_path / "data", port=0) as srv:
        yield srv


def _viewer(srv: ServerHandle, key: str) -> int:
    return Wire(srv.url, key).post_graphql("{ viewer { username } }").status_code


def test_users_and_teams_from_the_cli_while_the_server_runs(server: ServerHandle) -> None:
    d = str(server.data_dir)
    alice = last_line(cli("user", "create", "alice", "--data-dir", d))
    bob = last_line(cli("user", "create", "bob", "--data-dir", d))
    assert alice.startswith("local-") and len(alice) == 46
    assert _viewer(server, alice) == 200
    # The default admin of the first start keeps working beside them.
    assert _viewer(server, server.api_key) == 200

    cli("team", "create", "ml", "--member", "alice", "--data-dir", d)
    Wire(server.url, alice).upsert("ml", "shared", "r")
    query = '{ project(name: "shared", entityName: "ml") { id } }'
    assert Wire(server.url, bob).gql(query)["project"] is None
    cli("team", "add", "ml", "bob", "--data-dir", d)
    assert Wire(server.url, bob).gql(query)["project"] is not None
    listing = cli("user", "list", "--data-dir", d).stdout
    assert "alice" in listing and "ml" in listing and "admin" in listing
    cli("team", "remove", "ml", "bob", "--data-dir", d)
    assert Wire(server.url, bob).gql(query)["project"] is None

    rotated = last_line(cli("user", "key", "alice", "--rotate", "--data-dir", d))
    assert rotated != alice
    assert _viewer(server, alice) == 401  # at once: no key cache keeps the old one alive
    assert _viewer(server, rotated) == 200
    cli("user", "delete", "bob", "--data-dir", d)
    assert _viewer(server, bob) == 401
    assert "bob" not in cli("user", "list", "--data-dir", d).stdout


def test_cli_mistakes_are_one_line_messages(tmp_path: Path) -> None:
    d = str(tmp_path / "d")
    cli("user", "create", "alice", "--data-dir", d)
    for args, words in [
        (("user", "create", "alice"), "already exists"),
        (("user", "create", "admin"), "already exists"),
        (("user", "create", "a/b"), "invalid user name"),
        (("user", "key", "nobody"), "no user called 'nobody'"),
        (("user", "delete", "nobody"), "no user called 'nobody'"),
        (("team", "create", "alice"), "already exists"),
        (("team", "create", "t", "--member", "nobody"), "no user called 'nobody'"),
        (("team", "add", "nope", "alice"), "no team called 'nope'"),
        (("team", "remove", "alice", "alice"), "no team called 'alice'"),
    ]:
        proc = cli(*args, "--data-dir", d, ok=False)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_admin_flag_and_key_file(tmp_path: Path) -> None:
    d = tmp_path / "d"
    root = last_line(cli("user", "create", "root", "--admin", "--data-dir", str(d)))
    assert (d / "key_secret").stat().st_mode & 0o777 == 0o600
    with start(data_dir=d, port=0) as srv:
        Wire(srv.url, srv.api_key).upsert("admin", "p", "r")
        # An admin reaches every entity, including another admin's.
        assert Wire(srv.url, root).gql('{ project(name: "p", entityName: "admin") { id } }')[
            "project"
        ]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "db.sqlite")
    if not PG_URL:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to run against PostgreSQL")
    engine = create_engine(PG_URL)
    t.metadata.drop_all(engine)
    engine.dispose()
    return PG_URL


def test_sha256_keys_of_older_stores_are_converted_in_place(db_url: str) -> None:
    store = Store(db_url)
    key = accounts.new_key()
    with store.write() as conn:
        uid = accounts.create_user(conn, "old")
        # A row as schema v5 wrote it: the bare sha256, `hashed` 0.
        conn.execute(
            t.api_keys.insert().values(
                user_id=uid, name="v5", key_hash=accounts.legacy_hash(key), hashed=0,
                created_at="2026-01-01T00:00:00",
            )
        )  # fmt: skip
    assert store.user_for_key(key) is None  # no secret given: not converted, not usable
    store.close()
    secret = b"s" * 32
    store = Store(db_url, key_secret=secret)
    try:
        user = store.user_for_key(key)
        assert user is not None and user["username"] == "old"
        with store.read() as conn:
            stored = conn.execute(select(t.api_keys.c.key_hash, t.api_keys.c.hashed)).one()
        assert stored == (accounts.hash_key(key, secret), 1)
        assert Store(db_url, key_secret=b"another").user_for_key(key) is None
    finally:
        store.close()


def test_teams_on_the_store(db_url: str) -> None:
    store = Store(db_url, key_secret=b"k" * 32)
    try:
        with store.write() as conn:
            a = accounts.create_user(conn, "a")
            b = accounts.create_user(conn, "b")
            team = accounts.create_team(conn, "t", ["a"])
            own_a = accounts.entity_by_name(conn, "a")
            assert own_a is not None
            assert accounts.entity_ids_of(conn, a) == {own_a["id"], team["id"]}
            accounts.add_member(conn, "t", "b")
            assert team["id"] in accounts.entity_ids_of(conn, b)
            assert accounts.remove_member(conn, "t", "b")
            assert not accounts.remove_member(conn, "t", "b")
            assert team["id"] not in accounts.entity_ids_of(conn, b)
            # A new entity met by logging becomes a team of its creator.
            created = accounts.ensure_entity(conn, "fresh", b)
            assert created["id"] in accounts.entity_ids_of(conn, b)
            assert [r["name"] for r in accounts.teams_of(conn, b)] == ["fresh"]
            accounts.delete_user(conn, "b")
            assert conn.execute(text("SELECT count(*) FROM team_members WHERE user_id = :u"),
                                {"u": b}).scalar_one() == 0  # fmt: skip
    finally:
        store.close()


def test_cli_on_postgresql(tmp_path: Path) -> None:
    if not PG_URL:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to run against PostgreSQL")
    engine = create_engine(PG_URL)
    t.metadata.drop_all(engine)
    engine.dispose()
    d = str(tmp_path / "d")
    key = last_line(cli("user", "create", "pg", "--data-dir", d, "--database-url", PG_URL))
    cli("team", "create", "pgt", "--member", "pg", "--data-dir", d, "--database-url", PG_URL)
    store = Store(PG_URL, key_secret=(tmp_path / "d" / "key_secret").read_text().encode())
    try:
        user = store.user_for_key(key)
        assert user is not None and user["username"] == "pg"
    finally:
        store.close()
