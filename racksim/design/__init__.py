"""Design files, the input boundary: the schema, loading (`extends:`, `--set`) and the physical checks.

Below this package nothing sees YAML or dicts: `racksim.run.loading.load_design` compiles a checked design
into the arrays the physics runs on.
"""

from racksim.design.checks import DesignWarning
from racksim.design.schema import Design

__all__ = ["Design", "DesignWarning"]
