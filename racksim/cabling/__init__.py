"""Cabling: where every cable of a rack runs, its length and medium, and what the cables cost, weigh, draw and fail.

`plan_cabling(design)` gives a rack's cabling plan; `cabling_metrics` and `cabling_summary` aggregate it.

Physics (loss, reach, selection) is in `media`, routes and lengths in `geometry`, both pure and vectorized over
links; `plan` builds one rack's struct-of-arrays table; `bom` aggregates it.
"""

from racksim.cabling.bom import bill_of_materials, cabling_figures, cabling_metrics, cabling_summary
from racksim.cabling.plan import GROUPS, CablingPlan, plan_cabling

__all__ = [
    "GROUPS",
    "CablingPlan",
    "bill_of_materials",
    "cabling_figures",
    "cabling_metrics",
    "cabling_summary",
    "plan_cabling",
]
