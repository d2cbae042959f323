"""Real-browser fixtures: a liberry server with demo data, the notebook hosts (JupyterLab 4,
Notebook 7, marimo), and Debian Chromium.

Everything listens on 127.0.0.1 only. Each host and the browser start once per session, and
only when a test asks for them; each test gets a fresh copy of the notebook (so a fresh kernel;
marimo starts one per page load) and a fresh browser context.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from liberry import demo, demo_lineage, demo_sweep
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
    """The server with `demo/image-classification` (120 runs of 60 to 200 steps), the demo
    sweep and the demo's artifacts, as the quickstart notebook expects."""
    url, key = liberry_server.url, liberry_server.api_key
    demo.seed(url, key, runs=120, steps=(60, 200))
    demo_sweep.seed_sweep(url, key, runs=12)
    demo_lineage.seed_lineage(url, key)
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


def _kernel_env(liberry_server: ServerHandle, state: Path) -> dict[str, str]:
    """The environment of a notebook server and its kernels: private Jupyter dirs, and the
    liberry server's URL and key (the notebooks' `liberry.Api()` finds the server there; no
    key is in a notebook)."""
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "IPYTHONDIR": str(state / "ipython"),
        "LIBERRY_BASE_URL": liberry_server.url,
        "LIBERRY_API_KEY": liberry_server.api_key,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        # Kernels import this checkout even without an editable install.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _jupyter_server(
    app: str,
    flags: list[str],
    liberry_server: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """Run `python -m <app>` (jupyterlab or notebook) on 127.0.0.1 until the session ends.

    The demo data is seeded while the server boots (the two are independent).
    """
    root = tmp_path_factory.mktemp(f"{app}-root")
    state = tmp_path_factory.mktemp(f"{app}-state")
    _write_lab_settings(state / "settings")
    env = _kernel_env(liberry_server, state)
    log_path = state / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            app,
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True",
            *flags,
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        request.getfixturevalue("demo_server")  # seed while the server starts
        base = None
        deadline = time.monotonic() + 120
        while base is None:
            if proc.poll() is not None:
                raise RuntimeError(f"{app} exited:\n" + log_path.read_text())
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not start:\n" + log_path.read_text())
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
    yield {"base": base, "root": root, "runtime": state / "runtime", "env": env, "log": log_path}
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
def lab(
    liberry_server: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """JupyterLab 4 on 127.0.0.1 whose kernels reach the seeded server through the environment."""
    yield from _jupyter_server(
        "jupyterlab",
        [
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--LabApp.expose_app_in_browser=True",
        ],
        liberry_server,
        tmp_path_factory,
        request,
    )


@pytest.fixture(scope="session")
def nb7(
    liberry_server: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """Jupyter Notebook 7 on 127.0.0.1, set up like `lab` (same kernels, same environment)."""
    yield from _jupyter_server(
        "notebook",
        [
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ],
        liberry_server,
        tmp_path_factory,
        request,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_marimo(
    liberry_server: ServerHandle,
    state: Path,
    notebook: str,
    before_ready: Callable[[], Any] = lambda: None,
) -> Iterator[dict[str, Any]]:
    """`marimo run NOTEBOOK` (a file in `state`) on 127.0.0.1, headless and without a token,
    its kernels pointed at the liberry server; stopped on exit. `marimo run` starts a fresh
    kernel and runs every cell for each page load, so tests share the server, never a kernel.
    `before_ready` runs while marimo starts (e.g. seeding)."""
    env = {
        **_kernel_env(liberry_server, state),
        # marimo's config, state and cache stay in the temporary directory.
        "XDG_CONFIG_HOME": str(state / "config"),
        "XDG_STATE_HOME": str(state / "xdg-state"),
        "XDG_CACHE_HOME": str(state / "cache"),
        "MARIMO_SKIP_UPDATE_CHECK": "1",
    }
    port = _free_port()
    log_path = state / f"{Path(notebook).stem}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marimo", "-q", "run", notebook, "--headless",
             "--host=127.0.0.1", f"--port={port}", "--no-token"],
            cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            before_ready()
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("marimo exited:\n" + log_path.read_text())
                if time.monotonic() > deadline:
                    raise RuntimeError("marimo did not start:\n" + log_path.read_text())
                try:
                    if requests.get(f"{url}/health", timeout=5).ok:
                        break
                except requests.RequestException:
                    pass  # not listening yet
                time.sleep(0.2)
            yield {"url": url, "log": log_path, "server": liberry_server}
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def marimo_app(
    liberry_server: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """`marimo run notebooks/quickstart_marimo.py` (a copy: marimo may write beside it)."""
    state = tmp_path_factory.mktemp("marimo")
    shutil.copy(ROOT / "notebooks" / "quickstart_marimo.py", state / "quickstart_marimo.py")
    seed = lambda: request.getfixturevalue("demo_server")  # noqa: E731
    with run_marimo(liberry_server, state, "quickstart_marimo.py", seed) as app:
        yield app


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


def _notebook_copy(server: dict[str, Any]) -> Iterator[str]:
    """Copy notebooks/quickstart.ipynb under a fresh name (so a fresh kernel); afterwards stop
    the kernel sessions on that copy."""
    name = f"quickstart-{uuid.uuid4().hex[:8]}.ipynb"
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", server["root"] / name)
    yield name
    headers = {"Authorization": f"token {TOKEN}"}
    base = server["base"]
    for s in requests.get(f"{base}/api/sessions", headers=headers, timeout=10).json():
        if s["path"].endswith(name):
            requests.delete(f"{base}/api/sessions/{s['id']}", headers=headers, timeout=10)


@pytest.fixture
def notebook(lab: dict[str, Any]) -> Iterator[str]:
    """A fresh copy of notebooks/quickstart.ipynb in JupyterLab, for this test."""
    yield from _notebook_copy(lab)


@pytest.fixture
def nb7_notebook(nb7: dict[str, Any]) -> Iterator[str]:
    """A fresh copy of notebooks/quickstart.ipynb in Notebook 7, for this test."""
    yield from _notebook_copy(nb7)


def open_and_run(page: Any, lab: dict[str, Any], name: str, url: str | None = None) -> None:
    """Open the notebook (by default in a fresh JupyterLab workspace; `url` opens it elsewhere,
    e.g. Notebook 7's /notebooks/...), wait for an idle kernel, run all cells.

    Needs `expose_app_in_browser` (window.jupyterapp), which both fixtures set.
    """
    workspace = f"e2e-{uuid.uuid4().hex[:8]}"
    page.goto(url or f"{lab['base']}/lab/workspaces/{workspace}/tree/{name}?token={TOKEN}")
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
    # No heartbeat channel: its thread re-creates a zmq socket each time a busy kernel misses
    # a beat, and over a long session that ran out of sockets ("Too many open files").
    client.start_channels(hb=False)
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
