"""Sweep parameters (`--param path=spec`) and the points they expand to: a full grid or a Latin hypercube.

A spec is a range `start:stop:step` (both ends included when the step lands on them), a range `start:stop`
(only for `--samples`: sampled continuously), or a list `v1,v2,...` of YAML scalars (one value acts like
`--set`). Every point is a tuple of `path=value` overrides, the same text `--set` takes, so a sweep point
runs exactly as `racksim run --set ...` would.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from racksim.errors import InputError

MAX_POINTS = 100_000
"""Largest grid a sweep expands (a guard against a typo such as a step of 0.0001)."""
SAMPLE_DIGITS = 6
"""Significant digits a continuous Latin-hypercube sample keeps (readable overrides, stable point ids)."""
_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


def yaml_scalar(value: Any) -> str:  # noqa: ANN401 - any YAML scalar
    """The text `--set` parses back (as a YAML scalar) to `value` exactly: 30, 32.5, 1.0e-05, true, PG25."""
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n").removesuffix("\n...")


@dataclass(frozen=True)
class Param:
    """One swept design field: its values for a grid, and the interval a Latin hypercube samples."""

    path: str
    """Dotted design path, as `--set` takes it."""
    values: tuple[Any, ...]
    """The grid values (parsed YAML scalars); empty for a range without a step."""
    texts: tuple[str, ...]
    """The same values as override text."""
    interval: tuple[float, float] | None = None
    """(low, high) of a range; None for a list."""
    integer: bool = False
    """A range of integers (samples are integers too)."""


def _number(source: str, part: str) -> int | float:
    try:
        value = yaml.safe_load(part)
    except yaml.YAMLError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError("--param", source, f"range bound {part.strip()!r} is not a finite number "
                         "(expected start:stop:step, e.g. 30:45:5)")
    return value


def parse_param(text: str) -> Param:
    """`path=start:stop[:step]` or `path=v1,v2,...` → Param; a one-line InputError naming the rule otherwise."""
    if "=" not in text:
        raise InputError("--param", text, "expected dotted.path=start:stop:step or dotted.path=v1,v2,...")
    path, spec = (part.strip() for part in text.split("=", 1))
    if not _PATH.match(path):
        raise InputError("--param", text, f"{path!r} is not a dotted field path like cooling.facility_supply_temp_c")
    if not spec:
        raise InputError("--param", text, "no values after '='")
    if ":" in spec and "," not in spec:
        return _parse_range(text, path, spec)
    items = [item.strip() for item in spec.split(",")]
    if not all(items):
        raise InputError("--param", text, "empty value in the list")
    values = []
    for item in items:
        try:
            values.append(yaml.safe_load(item))
        except yaml.YAMLError:
            raise InputError("--param", text, f"cannot parse value {item!r}") from None
    if any(isinstance(value, dict | list) for value in values):
        raise InputError("--param", text, "values must be scalars (numbers, words, true/false, null)")
    if len({json.dumps(value) for value in values}) < len(values):
        raise InputError("--param", text, "a value appears twice in the list")
    return Param(path, tuple(values), tuple(items))


def _parse_range(text: str, path: str, spec: str) -> Param:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise InputError("--param", text, "a range is start:stop:step (or start:stop with --samples)")
    start, stop = (_number(text, part) for part in parts[:2])
    if stop < start:
        raise InputError("--param", text, f"range stop {stop} is below its start {start}")
    integer = isinstance(start, int) and isinstance(stop, int)
    if len(parts) == 2:
        return Param(path, (), (), (float(start), float(stop)), integer)
    step = _number(text, parts[2])
    if step <= 0:
        raise InputError("--param", text, f"range step {step} must be positive")
    count = math.floor((stop - start) / step * (1 + 1e-12)) + 1
    if count > MAX_POINTS:
        raise InputError("--param", text, f"{count} values; a sweep takes at most {MAX_POINTS}")
    integer = integer and isinstance(step, int)
    values: list[int | float] = [start + i * step if integer else round(start + i * step, 12) for i in range(count)]
    return Param(path, tuple(values), tuple(yaml_scalar(v) for v in values), (float(start), float(stop)), integer)


def parse_params(texts: list[str]) -> list[Param]:
    """Every --param, each path at most once."""
    if not texts:
        raise InputError("racksim sweep", "--param", "give at least one --param dotted.path=values")
    params = [parse_param(text) for text in texts]
    paths = [param.path for param in params]
    for path in paths:
        if paths.count(path) > 1:
            raise InputError("--param", path, "the same field is swept twice")
    return params


@dataclass(frozen=True)
class Point:
    """One design variant of a sweep: a value per parameter."""

    values: dict[str, Any]
    """Dotted path → value (parsed, as the design sees it)."""
    overrides: tuple[str, ...]
    """`path=value` texts, as `--set` takes them."""

    @property
    def point_id(self) -> str:
        """A name that depends only on the overrides (so a resumed sweep finds the point's runs again)."""
        digest = hashlib.sha256(json.dumps(self.overrides).encode()).hexdigest()
        return f"p-{digest[:12]}"


def _point(params: list[Param], texts: tuple[str, ...]) -> Point:
    overrides = tuple(f"{param.path}={text}" for param, text in zip(params, texts, strict=True))
    return Point({param.path: yaml.safe_load(text) for param, text in zip(params, texts, strict=True)}, overrides)


def grid(params: list[Param]) -> list[Point]:
    """The full grid: every combination, the last parameter varying fastest."""
    for param in params:
        if not param.values:
            raise InputError("--param", param.path, "a grid range needs a step (start:stop:step); "
                             "start:stop is for --samples")
    count = math.prod(len(param.values) for param in params)
    if count > MAX_POINTS:
        raise InputError("--param", " × ".join(p.path for p in params),
                         f"the grid has {count} points; a sweep takes at most {MAX_POINTS} (use --samples)")
    return [_point(params, texts) for texts in itertools.product(*(param.texts for param in params))]


def latin_hypercube(params: list[Param], samples: int, seed: int) -> list[Point]:
    """`samples` points, each parameter's range cut into `samples` equal strata with one sample in each.

    A range without a step is sampled continuously (integers for an integer range); a range with a step and
    a list are sampled over their values (stratum i picks value ⌊u·k⌋ of k). Seeded: same seed, same points.
    """
    if not 1 <= samples <= MAX_POINTS:
        raise InputError("--samples", str(samples), f"must be between 1 and {MAX_POINTS}")
    rng = np.random.default_rng(seed)
    texts: list[list[str]] = []
    for param in params:
        unit = (rng.permutation(samples) + rng.random(samples)) / samples
        if param.values:
            picks = np.minimum((unit * len(param.values)).astype(int), len(param.values) - 1)
            texts.append([param.texts[i] for i in picks])
            continue
        assert param.interval is not None
        low, high = param.interval
        if param.integer:
            values: list[int | float] = [int(v) for v in np.minimum(np.floor(low + unit * (high - low + 1)), high)]
        else:
            values = [float(f"{v:.{SAMPLE_DIGITS}g}") for v in low + unit * (high - low)]
        texts.append([yaml_scalar(v) for v in values])
    return [_point(params, point_texts) for point_texts in zip(*texts, strict=True)]
