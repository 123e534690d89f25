"""The discrete-event engine: the only package that imports SimPy."""

from racksim.engine.simulation import Event, RunResult, Simulation

__all__ = ["Event", "RunResult", "Simulation"]
