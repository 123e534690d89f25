"""The discrete-event engine: the only package that imports SimPy."""

from racksim.engine.simulation import Simulation
from racksim.engine.state import Event, RunResult

__all__ = ["Event", "RunResult", "Simulation"]
