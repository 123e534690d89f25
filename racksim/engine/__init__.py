"""The discrete-event engine: the only package that imports SimPy."""

from racksim.engine.simulation import RunResult, Simulation

__all__ = ["RunResult", "Simulation"]
