"""Issue #17 with the official client: user B's key logging to user A's entity fails clearly
(the entity is "not found", nothing is created); a team's entity works for its members, and
both see each other's runs there through wandb.Api."""

from __future__ import annotations

from typing import Any

import pytest
import wandb

from liberry.server.store import accounts

from .conftest import WandbClient

pytestmark = [pytest.mark.compat, pytest.mark.slow]

LOG = """
import sys, wandb
try:
    run = wandb.init(entity=sys.argv[1], project=sys.argv[2])
    run.log({"loss": 0.5})
    run.finish()
    emit({"ok": True, "entity": run.entity})
except Exception as exc:
    emit({"ok": False, "type": type(exc).__name__, "message": str(exc)})
"""


@pytest.fixture(scope="module")
def keys(wandb_client: WandbClient) -> dict[str, str]:
    store = wandb_client.server.data.store
    out: dict[str, str] = {}
    with store.write() as conn:
        for name in ("mu_alice", "mu_bob", "mu_carol"):
            uid = accounts.create_user(conn, name)
            out[name] = accounts.create_api_key(conn, uid, store.key_secret)
        accounts.create_team(conn, "mu_team", ["mu_alice", "mu_carol"])
    return out


@pytest.fixture(scope="module")
def results(wandb_client: WandbClient, keys: dict[str, str]) -> dict[str, Any]:
    def job(who: str, entity: str, project: str) -> dict[str, Any]:
        env = wandb_client.env(WANDB_API_KEY=keys[who], WANDB_ENTITY=entity)
        return {"code": LOG, "env": env, "args": [entity, project]}

    # alice first, so her entity and projects exist before bob tries them.
    first = wandb_client.run_many(
        [job("mu_alice", "mu_alice", "mine"), job("mu_alice", "mu_team", "shared")]
    )
    later = wandb_client.run_many(
        [
            job("mu_bob", "mu_alice", "mine"),
            job("mu_bob", "mu_team", "shared"),
            job("mu_carol", "mu_team", "shared"),
        ]
    )
    names = ["alice_own", "alice_team", "bob_into_alice", "bob_into_team", "carol_team"]
    return dict(zip(names, [r.result for r in first + later], strict=True))


def test_owner_and_team_members_log(results: dict[str, Any]) -> None:
    assert results["alice_own"] == {"ok": True, "entity": "mu_alice"}
    assert results["alice_team"] == {"ok": True, "entity": "mu_team"}
    assert results["carol_team"] == {"ok": True, "entity": "mu_team"}


@pytest.mark.parametrize("case", ["bob_into_alice", "bob_into_team"])
def test_another_users_key_fails_clearly(results: dict[str, Any], case: str) -> None:
    out = results[case]
    assert out["ok"] is False, out
    assert "not found" in out["message"], out
    for word in ("forbidden", "permission"):
        assert word not in out["message"].lower()


def test_reading_back_with_wandb_api(
    wandb_client: WandbClient, keys: dict[str, str], results: dict[str, Any]
) -> None:
    def api(who: str) -> Any:
        return wandb.Api(overrides={"base_url": wandb_client.url}, api_key=keys[who], timeout=60)

    carol_runs = api("mu_carol").runs("mu_team/shared")
    assert len(carol_runs) == 2  # alice's and her own
    assert [p.name for p in api("mu_bob").projects("mu_alice")] == []
    assert [p.name for p in api("mu_alice").projects("mu_alice")] == ["mine"]
    with pytest.raises(wandb.errors.CommError, match="Could not find run"):
        api("mu_bob").run(f"mu_team/shared/{carol_runs[0].id}")
