"""Issue #4, item 6: error paths behave as they do against W&B.

Wrong key → HTTP 401 → the client's authentication error. Unknown run/project → `null`
objects that the client turns into its own errors. Deterministic problems → HTTP 200
GraphQL errors, which the client reports at once instead of retrying (it retries 5xx).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import wandb

from .conftest import WandbClient

pytestmark = [pytest.mark.compat, pytest.mark.slow]

WRONG_KEY = "local-" + "0" * 40


def test_wrong_key_public_api(wandb_client: WandbClient) -> None:
    with pytest.raises(wandb.errors.AuthenticationError):
        wandb.Api(overrides={"base_url": wandb_client.url}, api_key=WRONG_KEY, timeout=20)


INIT = """
import sys, time, wandb
t0 = time.monotonic()
try:
    run = wandb.init(project=sys.argv[1])
    run.log({"x": 1})
    run.finish()
    emit({"ok": True, "seconds": time.monotonic() - t0})
except Exception as exc:
    emit({"ok": False, "type": type(exc).__name__, "message": str(exc),
          "seconds": time.monotonic() - t0})
"""


SEED = """
import wandb
for project in ("errors-known", "errors-filter"):
    wandb.init(project=project).finish()
"""


@pytest.fixture(scope="module")
def scripts(wandb_client: WandbClient) -> dict[str, Any]:
    """This module's training scripts, run at once."""
    wrong_key, bad_name, _ = wandb_client.run_many([
        {"code": INIT, "env": wandb_client.env(WANDB_API_KEY=WRONG_KEY), "args": ["auth-fail"]},
        {"code": INIT, "args": ["bad project "]},
        {"code": SEED},
    ], timeout=90)
    return {"wrong_key": wrong_key.result, "bad_name": bad_name.result}


def test_wrong_key_training_script_fails_fast(
    wandb_client: WandbClient, scripts: dict[str, Any]
) -> None:
    out = scripts["wrong_key"]
    assert out["ok"] is False
    assert out["type"] == "CommError" and "invalid API key" in out["message"]
    assert out["seconds"] < 15  # 401 is fatal, not retried
    # Nothing was created.
    assert "auth-fail" not in [p.name for p in wandb_client.api().projects(wandb_client.entity)]


def test_graphql_error_reaches_init_without_retry(scripts: dict[str, Any]) -> None:
    """The server rejects this project name (W&B's client accepts it): an HTTP 200 GraphQL
    error, shown by `wandb.init` as its message, with no retry loop."""
    out = scripts["bad_name"]
    assert out["ok"] is False
    assert out["message"].startswith("Error initializing run: ")
    assert "invalid project name" in out["message"]
    assert out["seconds"] < 20


def test_unknown_run_and_project(wandb_client: WandbClient, scripts: dict[str, Any]) -> None:
    api = wandb_client.api()
    entity = wandb_client.entity
    with pytest.raises(wandb.errors.CommError, match="Could not find run"):
        api.run(f"{entity}/no-such-project/abc")
    with pytest.raises(wandb.errors.CommError, match="Could not find run"):
        api.run(f"{entity}/errors-known/nosuchrun")
    assert len(api.runs(f"{entity}/errors-known")) == 1
    with pytest.raises(ValueError, match="Could not find project"):
        list(api.runs(f"{entity}/no-such-project"))
    lib = wandb_client.liberry_api()
    if lib is not None:
        import liberry

        with pytest.raises(liberry.NotFoundError):
            lib.run(f"{entity}/errors-known/nosuchrun").state  # noqa: B018


def test_bad_filter_is_a_graphql_error(wandb_client: WandbClient, scripts: dict[str, Any]) -> None:
    """A filter the server cannot compile comes back as an error message, not a 5xx."""
    api = wandb_client.api()
    started = time.monotonic()
    with pytest.raises(Exception) as info:  # wandb wraps it variously
        list(api.runs(f"{wandb_client.entity}/errors-filter", filters={"config.x": {"$bogus": 1}}))
    assert 'unknown operator "$bogus"' in str(info.value)
    assert time.monotonic() - started < 10
