"""Fixtures for driving the official `wandb` client against a real liberry server.

Training code runs in subprocesses (as users run it: `WANDB_BASE_URL=... python train.py`)
with the quiet, fast settings recorded in `wandb_protocol/PROTOCOL.md` §6, each in its own
temporary `WANDB_DIR`. Reading back goes through `wandb.Api` (in this process, pointed at
the server with `overrides={"base_url": ...}`) and through `liberry.Api`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from liberry.server import ServerHandle, start
from tests.wandb_env import QUIET_ENV

wandb = pytest.importorskip("wandb", minversion="0.31")

pytestmark = pytest.mark.compat

HERE = Path(__file__).parent


# Every WANDB_* variable a developer might have set is dropped from child environments.
_DROP_PREFIXES = ("WANDB_", "LIBERRY_")


def _gql(
    url: str, key: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Raw GraphQL (for checks the public APIs do not expose, e.g. historyLineCount)."""
    token = base64.b64encode(f"api:{key}".encode()).decode()
    req = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    return body


@dataclass
class ScriptResult:
    returncode: int
    stdout: str
    stderr: str
    results: list[Any] = field(default_factory=list)

    @property
    def result(self) -> Any:
        """The last value the script printed with `emit(...)`."""
        assert self.results, (
            f"script emitted nothing\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )
        return self.results[-1]


_PRELUDE = '''\
import json as _json, sys as _sys
def emit(value):
    """Hand a JSON value back to the test (one line on stdout)."""
    _sys.stdout.write("@@RESULT@@ " + _json.dumps(value) + "\\n")
    _sys.stdout.flush()
'''


class WandbClient:
    """Runs training scripts with the official client against one liberry server."""

    def __init__(self, server: ServerHandle, root: Path, entity: str) -> None:
        self.server = server
        self.root = root
        self.entity = entity
        self._count = 0
        self._started: list[subprocess.Popen[str]] = []

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    def env(self, wandb_dir: Path | None = None, **extra: str) -> dict[str, str]:
        """The child environment: clean, quiet, pointed at the server, all state in tmp."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES)}
        env.update(QUIET_ENV)
        wandb_dir = wandb_dir or self.new_dir("wandb")
        env.update(
            {
                "WANDB_BASE_URL": self.url,
                "WANDB_API_KEY": self.api_key,
                "WANDB_DIR": str(wandb_dir),
                "WANDB_CONFIG_DIR": str(self.root / "config"),
                "WANDB_CACHE_DIR": str(self.root / "cache"),
                "WANDB_DATA_DIR": str(self.root / "data"),
                "WANDB_ENTITY": self.entity,
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        env.update(extra)
        return env

    def new_dir(self, prefix: str) -> Path:
        self._count += 1
        path = self.root / f"{prefix}-{self._count}"
        path.mkdir(parents=True)
        return path

    def popen(
        self, code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None,
        args: list[str] | None = None,
    ) -> tuple[subprocess.Popen[str], Path]:
        """Start a training script (Python source); returns the process and its script path."""
        cwd = cwd or self.new_dir("job")
        script = cwd / "train.py"
        script.write_text(_PRELUDE + textwrap.dedent(code))
        proc = subprocess.Popen(
            [sys.executable, str(script), *(args or [])],
            cwd=cwd, env=env or self.env(cwd / "wandb-dir"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._started.append(proc)
        return proc, script

    def kill_leftovers(self) -> None:
        """Kill scripts this client started that are still running (after a failed test)."""
        for proc in self._started:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self._started.clear()

    def run(
        self, code: str, *, env: dict[str, str] | None = None, timeout: float = 120,
        check: bool = True, args: list[str] | None = None, cwd: Path | None = None,
    ) -> ScriptResult:
        """Run a training script to completion; `check` asserts it exited 0."""
        if cwd is not None:
            cwd.mkdir(parents=True, exist_ok=True)
        proc, _ = self.popen(code, env=env, args=args, cwd=cwd)
        return self.wait(proc, timeout=timeout, check=check)

    def run_many(
        self, jobs: list[dict[str, Any]], *, timeout: float = 180,
    ) -> list[ScriptResult]:
        """Run several scripts at once (each job: `code` plus `run()` keyword arguments);
        independent jobs overlap their interpreter and wandb-core start-up."""
        started = []
        for job in jobs:
            job = dict(job)
            code = job.pop("code")
            check = job.pop("check", True)
            proc, _ = self.popen(code, **job)
            started.append((proc, check))
        try:
            return [self.wait(proc, timeout=timeout, check=check) for proc, check in started]
        finally:
            for proc, _ in started:
                if proc.poll() is None:  # only after another job failed
                    proc.kill()
                    proc.communicate()

    @staticmethod
    def wait(
        proc: subprocess.Popen[str], *, timeout: float = 120, check: bool = True
    ) -> ScriptResult:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(
                f"script timed out after {timeout} s\nstdout:\n{out}\nstderr:\n{err}"
            ) from None
        results = [
            json.loads(line.split(" ", 1)[1])
            for line in out.splitlines()
            if line.startswith("@@RESULT@@ ")
        ]
        res = ScriptResult(proc.returncode, out, err, results)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"script exited {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
            )
        return res

    def run_cli(
        self, args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the `wandb` command line (e.g. `wandb sync DIR`)."""
        code = "import sys\nfrom wandb.cli.cli import cli\nsys.exit(cli())\n"
        return subprocess.run(
            [sys.executable, "-c", code, *args], env=env or self.env(), cwd=cwd or self.root,
            capture_output=True, text=True, timeout=timeout,
        )

    def api(self, **overrides: Any) -> Any:
        """A `wandb.Api` pointed at the server (the way users do it)."""
        return wandb.Api(
            overrides={"base_url": self.url, "entity": self.entity, **overrides},
            api_key=self.api_key, timeout=60,
        )

    def liberry_api(self) -> Any:
        """A `liberry.Api` pointed at the server."""
        import liberry

        return liberry.Api(
            overrides={"base_url": self.url, "entity": self.entity}, api_key=self.api_key
        )

    def wait_for(
        self, predicate: Callable[[], Any], *, timeout: float = 30, interval: float = 0.2,
        what: str = "condition",
    ) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def _viewer_entity(server: ServerHandle) -> str:
    body = _gql(server.url, server.api_key, "{ viewer { entity } }")
    entity: str = body["data"]["viewer"]["entity"]
    return entity


@pytest.fixture(scope="package", autouse=True)
def _wandb_process_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`wandb.Api` in this process: keep its settings, cache and service state in tmp."""
    root = tmp_path_factory.mktemp("wandb-home")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("WANDB_"):
                mp.delenv(key)
        for key, value in QUIET_ENV.items():
            mp.setenv(key, value)
        mp.setenv("WANDB_CONFIG_DIR", str(root / "config"))
        mp.setenv("WANDB_CACHE_DIR", str(root / "cache"))
        mp.setenv("WANDB_DATA_DIR", str(root / "data"))
        mp.setenv("WANDB_DIR", str(root / "dir"))
        (root / "dir").mkdir()
        yield


@pytest.fixture(scope="package")
def wandb_client(
    server: ServerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WandbClient]:
    """The official client against the session server."""
    client = WandbClient(server, tmp_path_factory.mktemp("wandb-jobs"), _viewer_entity(server))
    yield client
    client.kill_leftovers()


@pytest.fixture
def crash_server(tmp_path: Path) -> Iterator[ServerHandle]:
    """A server of its own with a 3 s heartbeat timeout, for crash detection."""
    with start(data_dir=tmp_path / "data", port=0, heartbeat_timeout_s=3.0) as srv:
        yield srv


@pytest.fixture
def crash_client(crash_server: ServerHandle, tmp_path: Path) -> Iterator[WandbClient]:
    root = tmp_path / "jobs"
    root.mkdir()
    client = WandbClient(crash_server, root, _viewer_entity(crash_server))
    yield client
    client.kill_leftovers()
