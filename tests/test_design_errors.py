"""Bad design input of every kind: one line on stderr naming file, field path and rule, exit code 2.

Each case runs `racksim validate` through the console script's own racksim.cli.main, in-process (the user's
view: the stderr line and exit code a shell sees; tests/cli.py) and, where cheap, `load_design` (the API's
view: an InputError with source, field_path and rule); `--debug` runs in a real process. The committed files under
tests/data/bad_designs/ mostly extend the GB200 design and break one thing; input that is awkward to commit
(binary, huge, generated) is written to tmp_path by the test.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from racksim.errors import InputError
from racksim.run.loading import load_design
from tests.cli import Done, racksim

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad_designs"
GOOD = ROOT / "tests" / "data" / "good_designs"
BAD_REL = "tests/data/bad_designs"
GB200_REL = "designs/gb200-nvl72.yaml"
PREFIX = "racksim: error: "



def validate_cli(*args: str) -> Done:
    """`racksim validate ARGS` from the repository root (in-process, as the console script runs it)."""
    return racksim("validate", *args)


def assert_one_line_error(done: Done | subprocess.CompletedProcess[str], source: str, field: str | None,
                          fragment: str) -> str:
    """Exit 2 and exactly `racksim: error: <source>: [<field>: ]<rule>` on stderr; returns the message.

    field "" means a file-level error (no field path); None means the field is not checked.
    """
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.endswith("\n"), repr(done.stderr)
    assert done.stderr.count("\n") == 1, repr(done.stderr)
    assert len(done.stderr.splitlines()) == 1, repr(done.stderr)
    line = done.stderr.removesuffix("\n")
    assert line.startswith(PREFIX), line
    message = line.removeprefix(PREFIX)
    assert Path(source).name in message
    assert message.startswith(f"{source}: "), message
    if field:
        assert message.startswith(f"{source}: {field}: "), message
    assert fragment in message, message
    return message


# --------------------------------------------------------------------------- committed bad designs

# (file, file the error names if not the same, field path, fragment of the rule)
FILE_CASES = [
    pytest.param("unknown_key_top.yaml", None, "nmae", "unknown field", id="unknown-key-top"),
    pytest.param("unknown_key_nested.yaml", None, "compute_tray.gpus.tdp_watts", "unknown field",
                 id="unknown-key-nested"),
    pytest.param("wrong_type.yaml", None, "compute_tray.gpus.tdp_w", "valid number", id="string-for-number"),
    pytest.param("negative_power.yaml", None, "compute_tray.gpus.tdp_w", "greater than 0",
                 id="negative-power"),
    pytest.param("idle_above_tdp.yaml", None, "compute_tray.gpus", "idle_w (1300.0) must be below tdp_w",
                 id="idle-above-tdp"),
    pytest.param("nan_value.yaml", None, "compute_tray.gpus.tdp_w", "finite number", id="nan"),
    pytest.param("inf_value.yaml", None, "power.feed.limit_w", "finite number", id="inf"),
    pytest.param("slot_above_rack.yaml", None, "rack.slots.3", "above the rack's 30 U", id="slot-above-rack"),
    pytest.param("overlapping_slots.yaml", None, "rack.slots.2", "U14 is already taken by rack.slots.1",
                 id="overlapping-slots"),
    pytest.param("shelf_slots_mismatch.yaml", None, "rack.slots",
                 "8 power_shelf units but power.shelves.count is 6", id="shelf-slots-mismatch"),
    pytest.param("psu_below_redundancy.yaml", None, "power.shelves.count", "N+N needs 46 PSUs",
                 id="psu-below-redundancy"),
    pytest.param("feed_limit_below_nameplate.yaml", None, "power.feed.limit_w",
                 "exceeds the feed limit 50.0 kW", id="feed-limit"),
    pytest.param("cdu_capacity_below_heat.yaml", None, "cooling.cdu.capacity_w", "exceeds the CDU capacity",
                 id="cdu-capacity"),
    pytest.param("busbar_rating_too_low.yaml", None, "power.busbar.rating_a", "exceeds the rating 1000 A",
                 id="busbar-rating"),
    pytest.param("busbar_resistance_too_high.yaml", None, "power.busbar.resistance_ohm",
                 "cannot deliver the nameplate load", id="busbar-resistance"),
    pytest.param("scale_up_links_exceed_ports.yaml", None, "network.scale_up.links_per_gpu",
                 "1440 GPU links need more than the 1296 switch ports", id="scale-up-ports"),
    pytest.param("cold_plate_loops_missing_chip.yaml", None, "compute_tray.cold_plate_loops",
                 "gpu3 on no loop", id="loops-missing-chip"),
    pytest.param("cold_plate_loops_unknown_chip.yaml", None, "compute_tray.cold_plate_loops", "unknown chips gpu4",
                 id="loops-unknown-chip"),
    pytest.param("cold_plate_loops_duplicate.yaml", None, "compute_tray.cold_plate_loops", "gpu1 listed more than once",
                 id="loops-duplicate"),
    pytest.param("efficiency_not_increasing.yaml", None, "power.shelves.efficiency_curve",
                 "load_fraction must be strictly increasing", id="efficiency-decreasing"),
    pytest.param("efficiency_length_mismatch.yaml", None, "power.shelves.efficiency_curve",
                 "same number of points", id="efficiency-lengths"),
    pytest.param("bad_name.yaml", None, "name", "names a directory", id="name-not-a-path-segment"),
    pytest.param("slot_power_on_compute.yaml", None, "rack.slots.1.power_w", "only network and other slots",
                 id="slot-power-on-compute"),
    pytest.param("fluid_not_allowed.yaml", None, "cooling.fluid", "'water' or 'pg25'",
                 id="yaml-bool-for-enum"),
    pytest.param("alias_bomb.yaml", None, "", "aliases expand to more than 10000 values", id="alias-bomb"),
    pytest.param("python_tag.yaml", None, "", "invalid YAML at line 2: could not determine a constructor",
                 id="python-tag"),
    pytest.param("extends_cycle_a.yaml", None, "extends",
                 "cycle: extends_cycle_a.yaml -> extends_cycle_b.yaml -> extends_cycle_a.yaml", id="cycle-a"),
    pytest.param("extends_cycle_b.yaml", None, "extends",
                 "cycle: extends_cycle_b.yaml -> extends_cycle_a.yaml -> extends_cycle_b.yaml", id="cycle-b"),
    pytest.param("extends_missing_parent.yaml", None, "extends", "parent no-such-parent.yaml not found",
                 id="missing-parent"),
    pytest.param("extends_not_a_string.yaml", None, "extends", "must be the path of a parent design file",
                 id="extends-not-a-string"),
    pytest.param("extends_broken_parent.yaml", "invalid_syntax.yaml", "", "invalid YAML at line 3",
                 id="broken-parent-named"),
    pytest.param("empty.yaml", None, "", "file is empty", id="empty-file"),
    pytest.param("list_not_mapping.yaml", None, "", "must be a YAML mapping, not list",
                 id="list-not-mapping"),
    pytest.param("invalid_syntax.yaml", None, "", "invalid YAML at line 3", id="invalid-syntax"),
    pytest.param("duplicate_key.yaml", None, None, "tdp_w", id="duplicate-key"),
    pytest.param("newline_in_key.yaml", None, None, "unknown field", id="newline-in-key"),
]


def test_every_committed_bad_design_has_a_case() -> None:
    named = {param.values[0] for param in FILE_CASES}
    assert named == {path.name for path in BAD.glob("*.yaml")}
    assert len(named) >= 14


@pytest.mark.parametrize(("file", "named", "field", "fragment"), FILE_CASES)
def test_bad_design_file_cli(file: str, named: str | None, field: str | None, fragment: str) -> None:
    done = validate_cli(f"{BAD_REL}/{file}")
    assert_one_line_error(done, f"{BAD_REL}/{named or file}", field, fragment)
    assert done.stdout == ""


@pytest.mark.parametrize(("file", "named", "field", "fragment"), FILE_CASES)
def test_bad_design_file_in_process(file: str, named: str | None, field: str | None, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        load_design(BAD / file)
    error = caught.value
    assert "\n" not in str(error)
    assert error.source == str(BAD / (named or file))
    assert fragment in (error.rule if field is not None else str(error))
    if field is not None:
        assert error.field_path == field
        located = f"{error.source}: {field}: " if field else f"{error.source}: "
        assert str(error) == located + error.rule


# --------------------------------------------------------------------------- input written by the tests


def _binary(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)


def _control_character(path: Path) -> None:
    path.write_bytes(b"name: gb\x07200\n")


def _too_large(path: Path) -> None:
    path.write_bytes(b"name: big\n" + b"# padding\n" * 100_001)


def _too_many_aliases(path: Path) -> None:
    path.write_text("lol: &lol lol\nlols: [" + ", ".join(["*lol"] * 10_001) + "]\n")


def _deep_extends(path: Path) -> None:
    # level00 extends level01 ... level19 extends the GB200 design: 20 levels, above the limit of 16.
    for level in range(20):
        parent = f"level{level + 1:02d}.yaml" if level < 19 else str(ROOT / GB200_REL)
        (path.parent / f"level{level:02d}.yaml").write_text(f"extends: {parent}\nname: level{level}\n")


LONG_NAME = "é" * 200 + ".yaml"
"""A file name of 405 bytes: the system refuses to look it up (ENAMETOOLONG), which is not 'not found' to Python."""


def _parent_name_too_long(path: Path) -> None:
    path.write_text(f"extends: {LONG_NAME}\nname: child\n")


def _directory(path: Path) -> None:
    path.mkdir()


def _nothing(path: Path) -> None:
    pass


# (writer, file name given, file the error names, field, fragment)
TMP_CASES = [
    pytest.param(_binary, "garbage.yaml", "garbage.yaml", "", "not UTF-8 text", id="binary-garbage"),
    pytest.param(_control_character, "bell.yaml", "bell.yaml", "", "invalid YAML", id="control-character"),
    pytest.param(_too_large, "huge.yaml", "huge.yaml", "", "file larger than 1000000 bytes", id="too-large"),
    pytest.param(_too_many_aliases, "aliases.yaml", "aliases.yaml", "", "more than 10000 alias uses",
                 id="alias-budget"),
    pytest.param(_deep_extends, "level00.yaml", "level16.yaml", "extends", "deeper than 16 levels",
                 id="deep-extends"),
    pytest.param(_parent_name_too_long, "child.yaml", "child.yaml", "extends", f"parent {LONG_NAME} not found",
                 id="parent-name-too-long"),
    pytest.param(_directory, "a-directory.yaml", "a-directory.yaml", "", "cannot read", id="directory"),
    pytest.param(_nothing, "missing.yaml", "missing.yaml", "", "file not found", id="missing-file"),
]


@pytest.mark.parametrize(("write", "given", "named", "field", "fragment"), TMP_CASES)
def test_generated_bad_input_cli(tmp_path: Path, write: Callable[[Path], None], given: str, named: str,
                                 field: str, fragment: str) -> None:
    write(tmp_path / given)
    done = validate_cli(str(tmp_path / given))
    assert_one_line_error(done, str(tmp_path / named), field, fragment)


@pytest.mark.parametrize(("write", "given", "named", "field", "fragment"), TMP_CASES)
def test_generated_bad_input_in_process(tmp_path: Path, write: Callable[[Path], None], given: str,
                                        named: str, field: str, fragment: str) -> None:
    write(tmp_path / given)
    with pytest.raises(InputError) as caught:
        load_design(tmp_path / given)
    assert caught.value.source == str(tmp_path / named)
    assert caught.value.field_path == field
    assert fragment in caught.value.rule


# --------------------------------------------------------------------------- --set overrides

# (override, source the error names, field path, fragment); all applied to designs/gb200-nvl72.yaml
SET_CASES = [
    pytest.param("power.nonexistent=1", GB200_REL, "power.nonexistent", "unknown field",
                 id="nonexistent-path"),
    pytest.param("power.feed.limit_w", "--set", "power.feed.limit_w", "expected dotted.path=value",
                 id="no-equals"),
    pytest.param("rack.slots.9.u=2", "--set", "rack.slots.9", "no item 9 in a list of 6",
                 id="index-out-of-range"),
    pytest.param("rack.slots.first.u=2", "--set", "rack.slots.first", "no item first",
                 id="index-not-a-number"),
    pytest.param("name.first=x", "--set", "name.first", "parent field is a value", id="into-a-value"),
    pytest.param("power..limit_w=1", "--set", "power..limit_w", "empty segment", id="empty-segment"),
    pytest.param("compute_tray.gpus.tdp_w=[1, 2", "--set", "compute_tray.gpus.tdp_w", "cannot parse value",
                 id="unparsable-value"),
    pytest.param("compute_tray.gpus.tdp_w=.nan", GB200_REL, "compute_tray.gpus.tdp_w", "finite number",
                 id="nan-value"),
    pytest.param("name=123", GB200_REL, "name", "valid string", id="yaml-int-for-string"),
    pytest.param("power.feed.limit_w=50000", GB200_REL, "power.feed.limit_w", "exceeds the feed limit",
                 id="infeasible-value"),
    pytest.param("power.feed\nlimit_w", "--set", None, "expected dotted.path=value", id="newline-in-path"),
]


@pytest.mark.parametrize(("override", "source", "field", "fragment"), SET_CASES)
def test_bad_override_cli(override: str, source: str, field: str | None, fragment: str) -> None:
    done = validate_cli(GB200_REL, "--set", override)
    assert_one_line_error(done, source, field, fragment)


@pytest.mark.parametrize(("override", "source", "field", "fragment"), SET_CASES)
def test_bad_override_in_process(override: str, source: str, field: str | None, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        load_design(ROOT / GB200_REL, [override])
    error = caught.value
    assert "\n" not in str(error)
    assert error.source == (str(ROOT / source) if source != "--set" else "--set")
    if field is not None:
        assert error.field_path == field
    assert fragment in error.rule


# --------------------------------------------------------------------------- controls


def test_good_designs_pass_the_same_command() -> None:
    files = [GB200_REL, "designs/gb300-nvl72.yaml", "designs/vr-800vdc.yaml",
             *(str(path.relative_to(ROOT)) for path in sorted(GOOD.glob("*.yaml")))]
    done = validate_cli(*files)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count("ok: ") == len(files) >= 5


def test_first_bad_file_stops_after_earlier_good_ones() -> None:
    done = validate_cli(GB200_REL, f"{BAD_REL}/negative_power.yaml")
    assert done.stdout.startswith(f"ok: {GB200_REL} ")
    assert_one_line_error(done, f"{BAD_REL}/negative_power.yaml", "compute_tray.gpus.tdp_w", "greater than 0")


def test_debug_flag_shows_the_traceback() -> None:
    done = subprocess.run([sys.executable, "-m", "racksim", "validate", f"{BAD_REL}/negative_power.yaml",
                           "--debug"], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "InputError" in done.stderr
