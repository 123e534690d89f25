"""Errors racksim shows to users: always one line naming the file, the field path and the rule."""

from __future__ import annotations


class RacksimError(Exception):
    """Base class for errors the CLI turns into one line and a non-zero exit."""

    exit_code = 1


class InputError(RacksimError):
    """A design, suite or override that breaks a rule: ``file: field.path: rule``."""

    exit_code = 2

    def __init__(self, source: str, field_path: str, rule: str) -> None:
        self.source = source
        self.field_path = field_path
        self.rule = " ".join(str(rule).split())
        super().__init__(f"{source}: {field_path}: {self.rule}" if field_path else f"{source}: {self.rule}")


class SimulationError(RacksimError):
    """A run that cannot go on (numerical divergence and the like), naming component and time."""

    exit_code = 3
