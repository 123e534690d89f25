"""python -m racksim."""

from racksim.cli import entry_point

entry_point()
