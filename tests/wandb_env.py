"""The environment that makes the official `wandb` client quiet and fast in tests and
recordings, in a module without pytest so scripts can import it too."""

from __future__ import annotations

# PROTOCOL.md §6: no Viewer call, no telemetry, no system-metrics sampler, no git/code
# capture, no error reporting, and GraphQL/file retries cut short so failures fail fast.
QUIET_ENV: dict[str, str] = {
    "WANDB_SILENT": "true",
    "WANDB_X_DISABLE_STATS": "true",
    "WANDB_X_DISABLE_META": "true",
    "WANDB_X_DISABLE_MACHINE_INFO": "true",
    "WANDB_CONSOLE": "off",
    "WANDB_DISABLE_GIT": "true",
    "WANDB_DISABLE_CODE": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_X_GRAPHQL_RETRY_MAX": "1",
    "WANDB_X_FILE_STREAM_RETRY_MAX": "2",
    "WANDB_X_FILE_TRANSFER_RETRY_MAX": "2",
    "WANDB_INIT_TIMEOUT": "60",
    "WANDB_DISABLE_JOB_CREATION": "true",
}
