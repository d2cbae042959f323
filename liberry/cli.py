"""The `liberry` command: `liberry server`, `liberry demo`, `liberry user`, `liberry team`."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

DEFAULT_DATA_DIR = Path("~/.liberry/server")
DEFAULT_DEMO_DIR = Path("~/.liberry/demo")


def _server_args(p: argparse.ArgumentParser, default_dir: Path, default_port: int) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=default_dir,
        help=f"database and files live here (default: {default_dir})",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=default_port, help=f"TCP port (default: {default_port})"
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="mark a running run crashed after this long without a heartbeat",
    )


def _deploy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        default=os.environ.get("LIBERRY_DATABASE_URL") or None,
        metavar="URL",
        help="keep the database here instead of SQLite in the data dir, e.g. "
        "postgresql://user:pass@host:5432/liberry (env: LIBERRY_DATABASE_URL). The data dir "
        "still holds the files, the secrets and the first admin's api_key; every server "
        "sharing the database must share the data dir's key_secret (and files)",
    )
    p.add_argument(
        "--storage",
        default=os.environ.get("LIBERRY_STORAGE") or None,
        metavar="URL",
        help="keep run files and artifact blobs in an S3-compatible bucket instead of under "
        "the data dir: s3://bucket/optional/prefix (env: LIBERRY_STORAGE). Endpoint and "
        "credentials come from the standard AWS variables: AWS_ENDPOINT_URL (MinIO, Ceph, R2), "
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. The bucket must exist; it is "
        "checked at start. Needs pip install 'liberry-widgets[s3]'",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve from N processes (default 1). Migrations and the first-run admin happen "
        "once, before the workers start; each worker has its own connection pool. Use with "
        "PostgreSQL: SQLite works but serializes every write",
    )


def cmd_server(args: argparse.Namespace) -> int:
    import uvicorn

    from .server.app import create_app
    from .server.datadir import DataDirError, open_data_dir
    from .server.factory import worker_env

    if args.workers < 1:
        print("liberry server: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        data = open_data_dir(args.data_dir, args.database_url, args.storage)
    except DataDirError as exc:
        print(f"liberry server: {exc}", file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}"
    dialect = data.store.engine.dialect.name
    where = f"data: {data.path}" + (f", database: {dialect}" if dialect != "sqlite" else "")
    if args.storage:
        where += f", files: {data.blobs.objects.describe()}"
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(f"liberry server on {url}  ({where}{workers})", flush=True)
    if data.created_key:
        print(
            f"API key (shown once; also saved, mode 0600, in {data.path / 'api_key'}):", flush=True
        )
        print(f"  {data.api_key}", flush=True)
    else:
        print(f"API key: see {data.path / 'api_key'}", flush=True)
    print(f"Log with W&B:  WANDB_BASE_URL={url} WANDB_API_KEY=<key> python train.py", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    run = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:
        # Each worker opens its own store (see liberry.server.factory); this process only
        # supervises them, so its connections go now.
        data.store.close()
        worker_env(data.path, args.database_url, args.heartbeat_timeout, args.storage)
        uvicorn.run("liberry.server.factory:make_app", factory=True, workers=args.workers, **run)
        print("liberry server stopped.", flush=True)
        return 0
    app = create_app(data.store, data.blobs, heartbeat_timeout_s=args.heartbeat_timeout)
    try:
        # uvicorn handles SIGINT/SIGTERM itself: it stops accepting, finishes in-flight
        # requests (each a committed-or-rolled-back transaction), then returns.
        uvicorn.run(app, **run)
    finally:
        data.store.close()
    print("liberry server stopped.", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo, demo_lineage, demo_sweep
    from .server import start

    notebook = Path(args.notebook).resolve()
    with start(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        heartbeat_timeout_s=args.heartbeat_timeout,
    ) as srv:
        demo.seed(srv.url, srv.api_key, runs=args.runs, progress=True)
        demo_sweep.seed_sweep(srv.url, srv.api_key, progress=True)
        demo_lineage.seed_lineage(srv.url, srv.api_key)
        stop_live = threading.Event()
        threading.Thread(
            target=demo.keep_running,
            args=(srv.url, srv.api_key, stop_live),
            kwargs={"runs": args.runs},
            daemon=True,
            name="liberry-demo-live",
        ).start()
        env = {**os.environ, "LIBERRY_BASE_URL": srv.url, "LIBERRY_API_KEY": srv.api_key}
        print(f"\nliberry server: {srv.url}  (data: {srv.data_dir})", flush=True)
        path = f"{demo.ENTITY}/{demo.PROJECT}"
        print(f"demo project:   {path}  (liberry.Api().runs({path!r}))")
        print(f"demo sweep:     liberry.Api().sweeps('{demo.ENTITY}/{demo_sweep.PROJECT}')")
        pipeline = f"{demo.ENTITY}/{demo_lineage.PROJECT}/cifar10:latest"
        print(f"demo lineage:   liberry.widgets.Lineage('{pipeline}')")
        if args.no_jupyter:
            print("Press Ctrl-C to stop.", flush=True)
            _wait_forever()
            stop_live.set()
            return 0
        if importlib.util.find_spec("jupyterlab") is None:
            print(
                "JupyterLab is not installed: pip install 'liberry-widgets[notebook]'",
                file=sys.stderr,
            )
            return 1
        lab_port, token = _free_port(), secrets.token_hex(24)
        # This interpreter's JupyterLab, not whichever `jupyter` is first on PATH: the README
        # runs `.venv/bin/liberry demo` without activating the venv.
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            str(notebook.name),
            f"--ServerApp.root_dir={notebook.parent}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={lab_port}",
            f"--IdentityProvider.token={token}",
        ]
        if args.no_browser:
            cmd.append("--no-browser")
            print(
                f"notebook:       http://127.0.0.1:{lab_port}/lab/tree/{notebook.name}?token={token}",
                flush=True,
            )
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        print(f"opening {notebook} in JupyterLab (Ctrl-C stops both)...", flush=True)
        # jupyter resolves the notebook path from its working directory, not root_dir.
        proc = subprocess.Popen(cmd, env=env, cwd=notebook.parent)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
            return 0
        finally:
            stop_live.set()


def cmd_sync_tensorboard(args: argparse.Namespace) -> int:
    import warnings

    from . import Api
    from .errors import LiberryError

    try:
        api = Api()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = api.sync_tensorboard(
                args.root, run_id=args.run_id, project=args.project, entity=args.entity
            )
    except LiberryError as exc:
        print(f"liberry sync-tensorboard: {exc}", file=sys.stderr)
        return 2
    for result in results:
        verb = "created" if result.created else "extended"
        print(
            f"{result.path}: {verb}, {result.rows_added} new history rows "
            f"({result.rows_total} steps, {result.events} events) from {result.log_dir}"
        )
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_forever() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="liberry", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_server = sub.add_parser(
        "server",
        help="run a persistent W&B-compatible tracking server",
        description="Serve the W&B wire protocol (point WANDB_BASE_URL here). By default one "
        "process keeps everything in --data-dir: SQLite and the logged files. For a team: "
        "--database-url postgresql://..., --storage s3://bucket and --workers N. The first "
        "start creates an admin user and prints its API key once (also saved in "
        "DATA_DIR/api_key); add users with `liberry user create`. Bad settings, or a database "
        "or bucket that cannot be reached, exit with status 2.",
    )
    _server_args(p_server, DEFAULT_DATA_DIR, 8080)
    _deploy_args(p_server)
    p_server.set_defaults(func=cmd_server)

    p_demo = sub.add_parser("demo", help="a local server with demo data, opened in JupyterLab")
    _server_args(p_demo, DEFAULT_DEMO_DIR, 8787)
    p_demo.add_argument("--runs", type=int, default=240, help="demo runs to create (default 240)")
    p_demo.add_argument(
        "--no-browser", action="store_true", help="print the URLs instead of opening a browser"
    )
    p_demo.add_argument(
        "--no-jupyter", action="store_true", help="only run the seeded server (no JupyterLab)"
    )
    p_demo.add_argument(
        "--notebook",
        default=str(Path("notebooks/quickstart.ipynb")),
        help="notebook to open (default notebooks/quickstart.ipynb)",
    )
    p_demo.set_defaults(func=cmd_demo)

    p_tb = sub.add_parser(
        "sync-tensorboard",
        help="create or extend runs from TensorBoard event files (one run per log directory)",
        description="Reads every TensorBoard event file under ROOT and writes its scalars as "
        "history (histograms, hparams and text too) to the server in LIBERRY_BASE_URL / "
        "WANDB_BASE_URL. Re-running appends only new steps.",
    )
    p_tb.add_argument("root", type=Path, metavar="ROOT", help="the folder TensorBoard logged to")
    p_tb.add_argument("--project", required=True, help="project to sync into")
    p_tb.add_argument("--entity", help="entity (default: the API key's own)")
    p_tb.add_argument("--run-id", help="run id (with several log directories: its prefix)")
    p_tb.set_defaults(func=cmd_sync_tensorboard)

    from .accounts_cli import add_parsers

    add_parsers(sub, DEFAULT_DATA_DIR)

    args = parser.parse_args(argv)
    if hasattr(args, "data_dir") and args.data_dir is not None:
        args.data_dir = Path(args.data_dir).expanduser()
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
