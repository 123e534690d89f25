"""racksim: co-design simulator for AI data-center racks (power, cooling, networking, cabling).

The public API: load a design, run scenarios, compute metrics and write reports.
"""

__version__ = "0.1.0"

from racksim.design import Design, load_design
from racksim.runner import run_many, run_one
from racksim.suite import Scenario, Suite, load_suite

__all__ = ["Design", "Scenario", "Suite", "__version__", "load_design", "load_suite", "run_many", "run_one"]
