"""Sweep parameters: the forms and distributions a parameter may take, their validation, and
the values a grid enumerates. `config.py` parses the rest of a sweep config on top of this.

Parameter forms (exactly one per parameter):

- ``value: x``                           -> constant
- ``values: [...]`` (+ ``probabilities``) -> categorical (categorical_w)
- ``min`` + ``max`` (+ ``distribution``, ``q``); without ``distribution``: int_uniform when both
  bounds are ints, uniform otherwise
- ``distribution`` alone: normal / log_normal (``mu`` 0, ``sigma`` 1), beta (``a`` 1, ``b`` 1)
  and their q_ variants
- ``parameters: {...}``                   -> nested, flattened to ``outer.inner``

The q_ distributions with bounds take the multiples of ``q`` inside the bounds (for
q_log_uniform the bounds are ``exp(min)`` and ``exp(max)``); with an integer ``q`` their values
are ints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DISTRIBUTIONS",
    "MAX_GRID_POINTS",
    "Param",
    "SweepConfigError",
    "grid_values",
    "parse_parameters",
]


MAX_GRID_POINTS = 1_000_000


# distribution -> the keys (besides "distribution") a parameter of that kind may carry
_DIST_KEYS: dict[str, frozenset[str]] = {
    "constant": frozenset({"value"}),
    "categorical": frozenset({"values"}),
    "categorical_w": frozenset({"values", "probabilities"}),
    "int_uniform": frozenset({"min", "max"}),
    "uniform": frozenset({"min", "max"}),
    "q_uniform": frozenset({"min", "max", "q"}),
    "log_uniform": frozenset({"min", "max"}),
    "log_uniform_values": frozenset({"min", "max"}),
    "q_log_uniform": frozenset({"min", "max", "q"}),
    "q_log_uniform_values": frozenset({"min", "max", "q"}),
    "inv_log_uniform": frozenset({"min", "max"}),
    "inv_log_uniform_values": frozenset({"min", "max"}),
    "normal": frozenset({"mu", "sigma"}),
    "q_normal": frozenset({"mu", "sigma", "q"}),
    "log_normal": frozenset({"mu", "sigma"}),
    "q_log_normal": frozenset({"mu", "sigma", "q"}),
    "beta": frozenset({"a", "b"}),
    "q_beta": frozenset({"a", "b", "q"}),
}


DISTRIBUTIONS: tuple[str, ...] = tuple(_DIST_KEYS)


_PARAM_KEYS = frozenset({"distribution", "parameters"}).union(*_DIST_KEYS.values())


_RANGE_DISTS = frozenset(d for d, keys in _DIST_KEYS.items() if "min" in keys)


# min/max are values that must be positive (their logs are taken)
_POSITIVE_BOUNDS = frozenset(
    {"log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"}
)


_DEFAULTS: dict[str, float] = {"mu": 0.0, "sigma": 1.0, "a": 1.0, "b": 1.0, "q": 1.0}


class SweepConfigError(ValueError):
    """An invalid sweep config; the message starts with the dotted path of the bad field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


@dataclass(frozen=True)
class Param:
    """One leaf parameter. Constants keep their value as ``values == (value,)``."""

    path: str
    distribution: str
    values: tuple[Any, ...] | None = None
    probabilities: tuple[float, ...] | None = None
    min: float | int | None = None
    max: float | int | None = None
    q: float | int | None = None
    mu: float | None = None
    sigma: float | None = None
    a: float | None = None
    b: float | None = None

    @property
    def is_discrete(self) -> bool:
        """True when grid search can enumerate this parameter."""
        return (
            self.values is not None
            or self.distribution == "int_uniform"
            or (self.distribution.startswith("q_") and self.distribution in _RANGE_DISTS)
        )

    def value_bounds(self) -> tuple[float, float] | None:
        """The interval values are drawn from, for distributions that have bounds."""
        if self.min is None or self.max is None:
            return (0.0, 1.0) if self.distribution in ("beta", "q_beta") else None
        if self.distribution in ("log_uniform", "q_log_uniform"):
            return math.exp(self.min), math.exp(self.max)
        if self.distribution == "inv_log_uniform":
            return math.exp(-self.max), math.exp(-self.min)
        return float(self.min), float(self.max)

    def q_range(self) -> tuple[int, int] | None:
        """For bounded q_ distributions: the multipliers k with ``k * q`` inside the bounds."""
        bounds = self.value_bounds()
        if self.q is None or bounds is None:
            return None
        lo, hi = bounds
        # the epsilon keeps 0.3 / 0.1 = 2.9999999999999996 from dropping the bound itself
        return math.ceil(lo / self.q - 1e-9), math.floor(hi / self.q + 1e-9)

    def q_value(self, k: int) -> float | int:
        """``k * q``, an int for an integer q, else rounded so 3 * 0.1 reads 0.3."""
        assert self.q is not None
        if isinstance(self.q, int):
            return k * self.q
        return round(k * self.q, 12)


def grid_values(param: Param) -> list[Any]:
    """The values grid search enumerates for a discrete parameter, in order."""
    if param.values is not None:
        return list(param.values)
    if param.distribution == "int_uniform":
        assert param.min is not None and param.max is not None
        return list(range(int(param.min), int(param.max) + 1))
    k_range = param.q_range()
    if k_range is None:
        raise SweepConfigError(field_of(param.path), f"{param.distribution} has no grid values")
    return [param.q_value(k) for k in range(k_range[0], k_range[1] + 1)]


def parse_parameters(spec: Any, field: str, prefix: str) -> Iterator[Param]:
    """Validate a ``parameters`` block and yield its leaves (filling defaults into ``spec``)."""
    if not isinstance(spec, dict) or not spec:
        raise SweepConfigError(
            field, f"must be a non-empty mapping of parameters, not {kind_of(spec)}"
        )
    for name, pspec in spec.items():
        if not isinstance(name, str) or not name or "." in name:
            raise SweepConfigError(
                f"{field}.{name}",
                "a parameter name must be a non-empty string without '.'; "
                "nest parameters with parameters: {...} instead",
            )
        pfield, path = f"{field}.{name}", f"{prefix}{name}"
        if not isinstance(pspec, dict):
            raise SweepConfigError(
                pfield, f"must be a mapping such as {{values: [...]}}, not {kind_of(pspec)}"
            )
        if "parameters" in pspec:
            if len(pspec) > 1:
                others = ", ".join(sorted(k for k in pspec if k != "parameters"))
                raise SweepConfigError(pfield, f"nested parameters cannot also have {others}")
            yield from parse_parameters(pspec["parameters"], f"{pfield}.parameters", f"{path}.")
        else:
            yield _parse_leaf(pspec, pfield, path)


def _parse_leaf(spec: dict[str, Any], field: str, path: str) -> Param:
    unknown = sorted(str(k) for k in spec if k not in _PARAM_KEYS)
    if unknown:
        raise SweepConfigError(f"{field}.{unknown[0]}", "unknown parameter key")
    dist = spec.get("distribution") or _infer_distribution(spec, field)
    if not isinstance(dist, str) or dist not in _DIST_KEYS:
        raise SweepConfigError(
            f"{field}.distribution",
            f"unknown distribution {dist!r}; use one of: {', '.join(DISTRIBUTIONS)}",
        )
    extra = sorted(k for k in spec if k != "distribution" and k not in _DIST_KEYS[dist])
    if extra:
        raise SweepConfigError(f"{field}.{extra[0]}", f"not used by the {dist} distribution")
    spec["distribution"] = dist
    if dist == "constant":
        if "value" not in spec:
            raise SweepConfigError(f"{field}.value", "required by the constant distribution")
        return Param(path=path, distribution=dist, values=(spec["value"],))
    if dist in ("categorical", "categorical_w"):
        return _parse_categorical(spec, field, path, dist)
    if dist in _RANGE_DISTS:
        return _parse_range(spec, field, path, dist)
    return _parse_unbounded(spec, field, path, dist)


def _infer_distribution(spec: Mapping[str, Any], field: str) -> str:
    forms = [key for key in ("value", "values", "min") if key in spec]
    if "max" in spec and "min" not in spec:
        raise SweepConfigError(f"{field}.min", "max is given without min")
    if len(forms) > 1:
        raise SweepConfigError(field, f"give exactly one of value, values or min/max, not {forms}")
    if not forms:
        raise SweepConfigError(
            field, "needs one of value, values, min/max, distribution or parameters"
        )
    if forms[0] == "value":
        return "constant"
    if forms[0] == "values":
        return "categorical_w" if "probabilities" in spec else "categorical"
    if "max" not in spec:
        raise SweepConfigError(f"{field}.max", "min is given without max")
    both_int = is_int(spec["min"]) and is_int(spec["max"])
    return "int_uniform" if both_int else "uniform"


def _parse_categorical(spec: dict[str, Any], field: str, path: str, dist: str) -> Param:
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise SweepConfigError(f"{field}.values", f"must be a non-empty list, not {values!r}")
    probs: tuple[float, ...] | None = None
    if dist == "categorical_w":
        raw_probs = spec.get("probabilities")
        if not isinstance(raw_probs, list) or len(raw_probs) != len(values):
            raise SweepConfigError(
                f"{field}.probabilities",
                f"must be a list of {len(values)} numbers, one per value, not {raw_probs!r}",
            )
        probs = tuple(float(number_at(p, f"{field}.probabilities")) for p in raw_probs)
        if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
            raise SweepConfigError(
                f"{field}.probabilities",
                f"must be non-negative and sum to 1 (they sum to {sum(probs):g})",
            )
    return Param(path=path, distribution=dist, values=tuple(values), probabilities=probs)


def _parse_range(spec: dict[str, Any], field: str, path: str, dist: str) -> Param:
    for key in ("min", "max"):
        if key not in spec:
            raise SweepConfigError(f"{field}.{key}", f"required by the {dist} distribution")
    lo, hi = number_at(spec["min"], f"{field}.min"), number_at(spec["max"], f"{field}.max")
    if lo > hi:
        raise SweepConfigError(field, f"min ({lo}) is greater than max ({hi})")
    if dist == "int_uniform" and not (_integral(lo) and _integral(hi)):
        raise SweepConfigError(field, f"int_uniform needs integer min and max, not {lo} and {hi}")
    if dist == "int_uniform":
        lo, hi = int(lo), int(hi)
    if dist in _POSITIVE_BOUNDS and lo <= 0:
        raise SweepConfigError(f"{field}.min", f"{dist} needs min > 0 (it takes logs), not {lo}")
    q = _parse_q(spec, field, dist)
    param = Param(path=path, distribution=dist, min=lo, max=hi, q=q)
    k_range = param.q_range()
    if k_range is not None and k_range[0] > k_range[1]:
        raise SweepConfigError(f"{field}.q", f"no multiple of q ({q}) lies between min and max")
    return param


def _parse_unbounded(spec: dict[str, Any], field: str, path: str, dist: str) -> Param:
    q = _parse_q(spec, field, dist)
    if dist in ("beta", "q_beta"):
        a, b = (_positive(spec, key, field) for key in ("a", "b"))
        return Param(path=path, distribution=dist, a=a, b=b, q=q)
    mu = float(number_at(spec.setdefault("mu", _DEFAULTS["mu"]), f"{field}.mu"))
    sigma = _positive(spec, "sigma", field)
    return Param(path=path, distribution=dist, mu=mu, sigma=sigma, q=q)


def _parse_q(spec: dict[str, Any], field: str, dist: str) -> float | int | None:
    if not dist.startswith("q_"):
        return None
    q = number_at(spec.setdefault("q", 1), f"{field}.q")
    if q <= 0:
        raise SweepConfigError(f"{field}.q", f"must be greater than 0, not {q}")
    return q


def _positive(spec: dict[str, Any], key: str, field: str) -> float:
    value = float(number_at(spec.setdefault(key, _DEFAULTS[key]), f"{field}.{key}"))
    if value <= 0:
        raise SweepConfigError(f"{field}.{key}", f"must be greater than 0, not {value:g}")
    return value


def grid_size(params: Sequence[Param]) -> int:
    """The number of grid points, computed without enumerating them."""
    size = 1
    for param in params:
        if param.values is not None:
            size *= len(param.values)
        elif param.distribution == "int_uniform":
            assert param.min is not None and param.max is not None
            size *= int(param.max) - int(param.min) + 1
        else:
            k_range = param.q_range()
            assert k_range is not None
            size *= k_range[1] - k_range[0] + 1
    return size


def field_of(path: str) -> str:
    """The config field of a dotted parameter path: a.b -> parameters.a.parameters.b."""
    return "parameters." + ".parameters.".join(path.split("."))


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integral(value: float | int) -> bool:
    return is_int(value) or (isinstance(value, float) and value.is_integer())


def number_at(value: Any, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (write numbers unquoted, e.g. 1.0e-5)" if isinstance(value, str) else ""
        raise SweepConfigError(field, f"must be a number, not {kind_of(value)}{hint}")
    if not math.isfinite(value):
        raise SweepConfigError(field, f"must be a finite number, not {value}")
    return value


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}" if len(value) < 40 else "a string"
    return f"a {type(value).__name__}"
