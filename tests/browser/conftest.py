"""Real-browser fixtures: a liberry server with demo data, JupyterLab, and Debian Chromium.

Everything listens on 127.0.0.1 only. One JupyterLab and one browser serve the whole session;
each test gets a fresh copy of the notebook (so a fresh kernel) and a fresh browser context.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from liberry import demo
from liberry.server import ServerHandle, start

CHROMIUM = "/usr/bin/chromium"
TOKEN = "liberry-e2e"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

if not os.path.exists(CHROMIUM):  # pragma: no cover - CI installs it
    pytest.exit(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)", 2)


@pytest.fixture(scope="session")
def liberry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """The liberry server, still empty (`demo_server` fills it)."""
    with start(data_dir=tmp_path_factory.mktemp("browser-liberry")) as srv:
        yield srv


@pytest.fixture(scope="session")
def demo_server(liberry_server: ServerHandle) -> ServerHandle:
    """The server with `demo/image-classification`: 120 runs of 60 to 200 steps."""
    demo.seed(liberry_server.url, liberry_server.api_key, runs=120, steps=(60, 200))
    return liberry_server


def _write_lab_settings(settings: Path) -> None:
    for rel, body in {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body))


@pytest.fixture(scope="session")
def lab(
    liberry_server: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """JupyterLab on 127.0.0.1 whose kernels reach the seeded server through the environment.

    The demo data is seeded while JupyterLab boots (the two are independent).
    """
    root = tmp_path_factory.mktemp("labroot")
    state = tmp_path_factory.mktemp("labstate")
    _write_lab_settings(state / "settings")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "IPYTHONDIR": str(state / "ipython"),
        # The notebook's `liberry.Api()` finds the server here; no key is in the notebook.
        "LIBERRY_BASE_URL": liberry_server.url,
        "LIBERRY_API_KEY": liberry_server.api_key,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        # Kernels import this checkout even without an editable install.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = (state / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--LabApp.expose_app_in_browser=True",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        request.getfixturevalue("demo_server")  # seed while JupyterLab starts
        base = None
        deadline = time.monotonic() + 120
        while base is None:
            if proc.poll() is not None:
                raise RuntimeError("jupyter lab exited:\n" + (state / "lab.log").read_text())
            if time.monotonic() > deadline:
                raise RuntimeError("jupyter lab did not start:\n" + (state / "lab.log").read_text())
            info = state / "runtime" / f"jpserver-{proc.pid}.json"
            if info.exists():
                try:
                    url = json.loads(info.read_text())["url"].rstrip("/")
                    if requests.get(f"{url}/api/status", params={"token": TOKEN}, timeout=5).ok:
                        base = url
                except (ValueError, KeyError, requests.RequestException):
                    pass  # the file is still being written, or the server is not listening yet
            time.sleep(0.2)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
        raise
    yield {"base": base, "root": root, "runtime": state / "runtime", "env": env}
    try:
        requests.post(
            f"{base}/api/shutdown", headers={"Authorization": f"token {TOKEN}"}, timeout=10
        )
        proc.wait(20)
    except (requests.RequestException, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh context; it records page errors and requests leaving 127.0.0.1, and
    a failing test leaves a screenshot in test-artifacts/ (see pytest_runtest_makereport)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(30_000)
    pg = ctx.new_page()
    errors: list[str] = []
    outside: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))
            else None
        ),
    )
    pg.liberry_errors = errors
    pg.liberry_outside = outside
    yield pg
    ctx.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Screenshot a failing test's page at once, while its kernel is still connected."""
    outcome = yield
    rep = outcome.get_result()  # type: ignore[attr-defined]
    pg = getattr(item, "funcargs", {}).get("page")
    if rep.when == "call" and rep.failed and pg is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"{item.name}.png"
        try:
            pg.evaluate("document.querySelector('[data-testid=liberry-runs]')?.scrollIntoView()")
            pg.screenshot(path=str(shot), full_page=True, timeout=15_000)
            rep.sections.append(("screenshot", str(shot)))
        except Exception as exc:  # a screenshot must never hide the real failure
            rep.sections.append(("screenshot", f"failed: {exc}"))


@pytest.fixture
def notebook(lab: dict[str, Any], request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh copy of notebooks/quickstart.ipynb (so a fresh kernel) for this test."""
    name = f"quickstart-{uuid.uuid4().hex[:8]}.ipynb"
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", lab["root"] / name)
    yield name
    headers = {"Authorization": f"token {TOKEN}"}
    for s in requests.get(f"{lab['base']}/api/sessions", headers=headers, timeout=10).json():
        if s["path"].endswith(name):
            requests.delete(f"{lab['base']}/api/sessions/{s['id']}", headers=headers, timeout=10)


def open_and_run(page: Any, lab: dict[str, Any], name: str) -> None:
    """Open the notebook in a fresh workspace, wait for an idle kernel, run all cells."""
    page.goto(f"{lab['base']}/lab/workspaces/e2e-{uuid.uuid4().hex[:8]}/tree/{name}?token={TOKEN}")
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
    page.wait_for_function(
        """(name) => { const w = window.jupyterapp?.shell.currentWidget;
            if (!w?.context || w.context.path !== name) return false;
            const k = w.sessionContext?.session?.kernel;
            return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }""",
        arg=name,
        timeout=60_000,
    )
    result = page.evaluate(
        """(ms) => Promise.race([
            window.jupyterapp.commands.execute('notebook:run-all-cells').then(v => 'done:' + v),
            new Promise(r => setTimeout(() => r('timeout'), ms))])""",
        90_000,
    )
    assert result.startswith("done"), result
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .every(p => /\\[\\d+\\]/.test(p.textContent))""",
        timeout=90_000,
    )


def kernel_eval(lab: dict[str, Any], name: str, expr: str) -> Any:
    """Evaluate `expr` in the notebook's kernel (as a second client) and return it as JSON.

    A Python error in the kernel fails the test with the kernel's traceback.
    """
    from jupyter_client import BlockingKernelClient

    headers = {"Authorization": f"token {TOKEN}"}
    sessions = requests.get(f"{lab['base']}/api/sessions", headers=headers, timeout=10).json()
    kernel_id = next((s["kernel"]["id"] for s in sessions if s["path"].endswith(name)), None)
    assert kernel_id, f"no kernel session for {name}: {[s['path'] for s in sessions]}"
    client = BlockingKernelClient()
    client.load_connection_file(str(lab["runtime"] / f"kernel-{kernel_id}.json"))
    client.start_channels()
    try:
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"].get("text", ""))
            elif msg["msg_type"] == "error":
                tb = "\n".join(msg["content"].get("traceback", []))
                errors.append(re.sub(r"\x1b\[[0-9;]*m", "", tb))

        reply = client.execute_interactive(
            f"import json as _j; print(_j.dumps({expr}, default=str))",
            store_history=False,
            output_hook=hook,
            timeout=90,
        )
        if errors or reply["content"].get("status") != "ok":
            raise AssertionError(f"kernel error evaluating {expr!r}:\n" + "\n".join(errors))
        return json.loads("".join(out))
    finally:
        client.stop_channels()


def kernel_exec(lab: dict[str, Any], name: str, code: str) -> None:
    """Run statements in the notebook's kernel (e.g. to log a new run)."""
    kernel_eval(lab, name, f"exec({code!r}, globals()) or None")
