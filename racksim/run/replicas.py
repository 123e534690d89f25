"""Monte Carlo over seeds: each KPI's mean and 95 % interval over the replicas of one design × scenario.

The pipeline (racksim.run.plan) runs a request with `replicas` N as N seeds from the request's seed up, in the
pool like any other runs: the base seed's run keeps its full result directory (time series, events, figures);
the other replicas run in a scratch directory and only their metrics are kept, in `replicas.json`.
`metrics.json` then holds the means and a `replicas` group with the seeds and each metric's 95 % confidence
half-width (Student t).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045)
"""Student t quantile 0.975 for 1 … 29 degrees of freedom (above: 1.96)."""
COPIED = ("design", "design_hash", "scenario", "seed", "racksim_version")


def t_quantile_975(dof: int) -> float:
    """Two-sided 95 % Student t quantile for `dof` degrees of freedom."""
    return T_975[dof - 1] if dof <= len(T_975) else 1.96


def _numeric_leaves(node: object, prefix: str = "") -> dict[str, float]:
    if isinstance(node, dict):
        leaves: dict[str, float] = {}
        for key, value in node.items():
            leaves |= _numeric_leaves(value, f"{prefix}{key}.")
        return leaves
    if isinstance(node, int | float) and not isinstance(node, bool):
        return {prefix[:-1]: float(node)}
    return {}


def _with_means(node: object, means: dict[str, float], prefix: str = "") -> object:
    if isinstance(node, dict):
        return {key: _with_means(value, means, f"{prefix}{key}.") for key, value in node.items()}
    return means.get(prefix[:-1], node)


def aggregate(samples: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Mean metrics over replicas (structure of the first), with the seeds and 95 % half-widths.

    Half-width = t₀.₉₇₅(n − 1) · s / √n over the replicas that have the metric (n ≥ 2).
    """
    leaves = [_numeric_leaves({k: v for k, v in sample.items() if k not in COPIED}) for sample in samples]
    names = sorted({name for sample in leaves for name in sample})
    means, half_widths = {}, {}
    for name in names:
        values = np.array([sample[name] for sample in leaves if name in sample])
        means[name] = float(values.mean())
        if values.size >= 2:
            half_widths[name] = t_quantile_975(values.size - 1) * float(values.std(ddof=1)) / math.sqrt(values.size)
    result: dict[str, Any] = {key: _with_means(value, means, f"{key}.") for key, value in samples[0].items()}
    result["replicas"] = {"count": len(samples), "seeds": seeds, "ci95_half_width": half_widths}
    return result
