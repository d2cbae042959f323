"""`liberry user ...` and `liberry team ...`: manage a server's accounts from its data dir.

They open the server's store directly (SQLite in the data dir, or `--database-url`), so they
work while the server runs: the server reads keys and team membership on every request, so
a new key, a rotation, a deletion or a team change is effective on the next request.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .server.datadir import DataDir, DataDirError, open_data_dir
from .server.store import StoreError, accounts


def _open(args: argparse.Namespace) -> DataDir:
    return open_data_dir(Path(args.data_dir).expanduser(), args.database_url)


def user_create(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.write() as conn:
        user_id = accounts.create_user(conn, args.name, admin=args.admin)
        key = accounts.create_api_key(conn, user_id, data.store.key_secret)
    role = "admin" if args.admin else "user"
    print(f"created {role} {args.name!r} (entity {args.name!r}); API key, shown once:")
    print(key)  # the last line: scripts read it with `tail -n 1`
    return 0


def user_list(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.read() as conn:
        users = accounts.list_users(conn)
    print(f"{'user':<24} {'admin':<5} {'keys':>4}  teams")
    for u in users:
        admin = "yes" if u["admin"] else "no"
        print(f"{u['username']:<24} {admin:<5} {u['keys']:>4}  {', '.join(u['teams']) or '-'}")
    return 0


def user_key(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.write() as conn:
        user = accounts.require_user(conn, args.name)
        if args.rotate:
            key = accounts.rotate_keys(conn, user["id"], data.store.key_secret)
            print(f"revoked every key of {args.name!r}; new API key, shown once:")
        else:
            key = accounts.create_api_key(conn, user["id"], data.store.key_secret, "cli")
            print(f"added an API key for {args.name!r} (its other keys still work):")
    if args.rotate and args.name == "admin" and (data.path / "api_key").exists():
        # The first admin's key file would otherwise hold a dead key.
        (data.path / "api_key").write_text(key + "\n")
    print(key)
    return 0


def user_delete(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.write() as conn:
        accounts.delete_user(conn, args.name)
    print(f"deleted user {args.name!r}: their keys stopped working; their projects remain")
    return 0


def team_create(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.write() as conn:
        accounts.create_team(conn, args.team, args.member or [])
    members = ", ".join(args.member or []) or "no members yet"
    print(f"created team {args.team!r} ({members})")
    return 0


def team_add(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.write() as conn:
        accounts.add_member(conn, args.team, args.user)
    print(f"{args.user!r} is a member of {args.team!r}")
    return 0


def team_remove(args: argparse.Namespace) -> int:
    data = _open(args)
    with data.store.write() as conn:
        removed = accounts.remove_member(conn, args.team, args.user)
    print(
        f"removed {args.user!r} from {args.team!r}"
        if removed
        else f"{args.user!r} was not a member of {args.team!r}"
    )
    return 0


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input (unknown user, taken name) is a one-line message and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except StoreError as exc:
            print(f"liberry {args.command}: {exc}", file=sys.stderr)
            return 1
        except DataDirError as exc:  # a bad --database-url, the database down: as the server
            print(f"liberry {args.command}: {exc}", file=sys.stderr)
            return 2

    return run


def add_parsers(sub: argparse._SubParsersAction, default_dir: Path) -> None:
    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir",
            type=Path,
            default=default_dir,
            help=f"the server's data dir (default: {default_dir})",
        )
        p.add_argument(
            "--database-url",
            default=os.environ.get("LIBERRY_DATABASE_URL") or None,
            help="the server's database when not SQLite in the data dir (postgresql://...; "
            "env: LIBERRY_DATABASE_URL)",
        )

    p_user = sub.add_parser("user", help="manage users and their API keys")
    users = p_user.add_subparsers(dest="action", required=True)
    p = users.add_parser("create", help="create a user; prints their API key as the last line")
    p.add_argument("name")
    p.add_argument("--admin", action="store_true", help="may read and write every entity")
    store_args(p)
    p.set_defaults(func=_guarded(user_create))
    p = users.add_parser("list", help="list users, their teams and key counts")
    store_args(p)
    p.set_defaults(func=_guarded(user_list))
    p = users.add_parser("key", help="issue an API key (--rotate: revoke the old ones)")
    p.add_argument("name")
    p.add_argument("--rotate", action="store_true", help="revoke every existing key first")
    store_args(p)
    p.set_defaults(func=_guarded(user_key))
    p = users.add_parser("delete", help="delete a user and their keys (their projects stay)")
    p.add_argument("name")
    store_args(p)
    p.set_defaults(func=_guarded(user_delete))

    p_team = sub.add_parser("team", help="manage teams (entities shared by their members)")
    teams = p_team.add_subparsers(dest="action", required=True)
    p = teams.add_parser("create", help="create a team entity")
    p.add_argument("team")
    p.add_argument("--member", action="append", metavar="USER", help="a member (repeatable)")
    store_args(p)
    p.set_defaults(func=_guarded(team_create))
    for action, helptext, func in (
        ("add", "add a member to a team", team_add),
        ("remove", "remove a member from a team (effective at once)", team_remove),
    ):
        p = teams.add_parser(action, help=helptext)
        p.add_argument("team")
        p.add_argument("user")
        store_args(p)
        p.set_defaults(func=_guarded(func))
