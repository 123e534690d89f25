"""Runs: a request (design, scenario, seed, overrides) simulated and written as a run directory, one or many."""
