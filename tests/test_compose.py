"""compose.yaml and the Dockerfile agree with the server they deploy (no Docker daemon here:
the files are checked as text, against what `liberry server` reads)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.test_server_deploy import _cli

ROOT = Path(__file__).resolve().parent.parent


def test_compose_wires_postgres_and_the_bucket_the_server_checks() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    server = services["liberry"]
    env = server["environment"]
    bucket = re.fullmatch(r"s3://([^/]+)(/.*)?", env["LIBERRY_STORAGE"])
    assert bucket is not None
    # The init service makes exactly the bucket the server is told to use, before it starts.
    assert f"minio/{bucket.group(1)}" in " ".join(services["minio-bucket"]["entrypoint"])
    assert server["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
    pg = services["postgres"]["environment"]
    assert env["LIBERRY_DATABASE_URL"].startswith(
        f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/"
    )
    assert server["build"] == "." and "8080:8080" in server["ports"]


def test_dockerfile_installs_the_extras_and_runs_options_the_cli_has() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert 'pip install ".[s3,postgresql]"' in text
    assert "npm run build" in text
    entry = re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    assert entry is not None
    args = yaml.safe_load(entry.group(1))
    assert args[:2] == ["liberry", "server"]
    help_text = _cli("server", "--help").stdout
    for option in [a for a in args if a.startswith("--")]:
        assert option in help_text, option
