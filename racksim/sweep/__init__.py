"""Design-space sweeps: a grid or a Latin hypercube over design fields, run on dask.distributed.

`racksim sweep DESIGN --param path=30:45:5 --param path=a,b --suite quick --out DIR` runs every point as an
ordinary run (resumable by the runner's fingerprints) and writes DIR/sweep.parquet and DIR/pareto.png.
"""

from racksim.sweep.execute import SweepResult, SweepRun, plan, run_sweep
from racksim.sweep.pareto import Objective, pareto_front, parse_objectives
from racksim.sweep.spec import Param, Point, grid, latin_hypercube, parse_params

__all__ = ["Objective", "Param", "Point", "SweepResult", "SweepRun", "grid", "latin_hypercube", "pareto_front",
           "parse_objectives", "parse_params", "plan", "run_sweep"]
