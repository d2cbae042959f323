"""liberry.Api on a shared server (issue #17): another user's project is a NotFoundError that
names the key (masked) and the entity; a rotated key is an AuthenticationError naming it."""

from __future__ import annotations

import pytest

import liberry
from liberry.server import ServerHandle
from liberry.server.store import accounts


def _user(server: ServerHandle, name: str) -> str:
    store = server.data.store
    with store.write() as conn:
        uid = accounts.create_user(conn, name)
        return accounts.create_api_key(conn, uid, store.key_secret)


def test_another_users_project_is_not_found_naming_key_and_entity(
    server: ServerHandle, project_name: str
) -> None:
    owner, other = _user(server, f"o-{project_name}"), _user(server, f"x-{project_name}")
    mine = liberry.Api(overrides={"base_url": server.url}, api_key=owner)
    run = mine.create_run(entity=f"o-{project_name}", project="p")
    path = f"o-{project_name}/p"
    theirs = liberry.Api(overrides={"base_url": server.url}, api_key=other)
    with pytest.raises(liberry.NotFoundError) as info:
        theirs.runs(path).page(0)
    message = str(info.value)
    assert path in message and f"...{other[-4:]}" in message and other not in message
    with pytest.raises(liberry.NotFoundError):
        theirs.run(f"{path}/{run.id}").load()
    assert [r.id for r in mine.runs(path)] == [run.id]


def test_rotated_key_names_the_key(server: ServerHandle, project_name: str) -> None:
    key = _user(server, f"r-{project_name}")
    store = server.data.store
    with store.write() as conn:
        accounts.rotate_keys(conn, accounts.require_user(conn, f"r-{project_name}")["id"],
                             store.key_secret)  # fmt: skip
    api = liberry.Api(overrides={"base_url": server.url}, api_key=key)
    with pytest.raises(liberry.AuthenticationError) as info:
        api.runs(f"r-{project_name}/p").page(0)
    assert f"...{key[-4:]}" in str(info.value) and key not in str(info.value)
