"""The sweep engine: parse a W&B sweep config, pick the next run's parameters (grid, random or
bayes via Optuna's TPE) and decide which runs hyperband stops. Pure functions over plain data;
the server's store and GraphQL layer call them."""

from liberry.server.sweeps.config import (
    Hyperband,
    Metric,
    Param,
    SweepConfig,
    SweepConfigError,
    command_args,
    expected_run_count,
    nest,
    parse_config,
)
from liberry.server.sweeps.hyperband import bands, runs_to_stop
from liberry.server.sweeps.search import Trial, next_params

__all__ = [
    "Hyperband",
    "Metric",
    "Param",
    "SweepConfig",
    "SweepConfigError",
    "Trial",
    "bands",
    "command_args",
    "expected_run_count",
    "nest",
    "next_params",
    "parse_config",
    "runs_to_stop",
]
