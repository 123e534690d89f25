"""Errors racksim shows to users: always one line naming the file, the field path and the rule."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """Show control characters (line breaks included) as escapes, so a message stays on one line."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), str(text))


class RacksimError(Exception):
    """Base class for errors the CLI turns into one line and a non-zero exit."""

    exit_code = 1


class InputError(RacksimError):
    """A design, suite or override that breaks a rule: ``file: field.path: rule``."""

    exit_code = 2

    def __init__(self, source: str, field_path: str, rule: str) -> None:
        self.source = one_line(source)
        self.field_path = one_line(field_path)
        self.rule = one_line(" ".join(str(rule).split()))
        where = f"{self.source}: {self.field_path}" if self.field_path else self.source
        super().__init__(f"{where}: {self.rule}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, str]]:
        """Pickle by the three parts, so the error crosses from a pool worker to the parent intact."""
        return (type(self), (self.source, self.field_path, self.rule))


class SimulationError(RacksimError):
    """A run that cannot go on (numerical divergence and the like), naming component and time."""

    exit_code = 3


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or a kill (SIGTERM) during a command; runs finished so far are kept and the next one resumes.

    A BaseException like KeyboardInterrupt, so no `except Exception` swallows it, but not a KeyboardInterrupt,
    which typer turns into a silent exit. The exit code is 128 + the signal number (130 for Ctrl-C).
    """

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)  # args stay (signal_number,): SimPy re-raises it as type(exc)(*exc.args)
        self.exit_code = 128 + signal_number
