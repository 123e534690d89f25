"""Fuzz the design and suite loaders: random mutations of the bundled valid files never crash them.

Every mutated file either loads, or fails with one InputError line naming the file, a field path and the
rule, and `racksim validate` exits 2 with exactly that line on stderr. The mutations: a value replaced by a
hostile one (wrong type, zero, negative, NaN, infinity, huge, nested), a key deleted or added, `extends`
broken, the text truncated or spliced with bytes, and `--set` paths and values drawn the same way.

`make test` runs these with the bounded "ci" hypothesis profile; `make fuzz` with the long "fuzz" profile,
whose one-second deadline is the "within a second" of issue 10.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from racksim.cli import main
from racksim.design.loader import read_yaml_mapping, resolve_extends
from racksim.design.suite import SUITES_DIR, load_suite
from racksim.errors import InputError
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
DESIGN_FILES = sorted([*(ROOT / "designs").glob("*.yaml"), *(ROOT / "designs" / "reference").glob("*.yaml"),
                       *(ROOT / "tests" / "data" / "good_designs").glob("*.yaml")])
SUITE_FILES = sorted(SUITES_DIR.glob("*.yaml"))
HALL_FILES = sorted((ROOT / "designs" / "halls").glob("*.yaml"))
FIELD_PATH = re.compile(r"^[A-Za-z0-9_<>.-]+$")
"""A field path as errors name it: dotted keys and list indices."""

HOSTILE_VALUES: list[Any] = [
    None, True, False, "", "text", "12", -1, 0, -0.5, 1e-300, 1e308, -1e308, 10**30, -(10**30), 2**63,
    math.nan, math.inf, -math.inf, [], {}, [1, 2], {"unknown_key": 1}, [[[[[[[[[[[[1]]]]]]]]]]]],
    {"a": {"b": {"c": {"d": {"e": {"f": None}}}}}}, "\x00\x07", "é" * 200,
]
UNKNOWN_KEYS = ["unknown_key", "tdp_watts", "nmae", "extends_", "<<"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key or index path in a YAML tree, the root's children first."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def replace_value(tree: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Put `value` at `path`."""
    _parent(tree, path)[path[-1]] = value


def delete(tree: dict[str, Any], path: tuple[Any, ...], _: Any) -> None:
    """Remove the key or list item at `path`."""
    del _parent(tree, path)[path[-1]]


def add_unknown(tree: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Add an unknown key beside `path` (in the mapping that holds it, or in the mapping at it)."""
    node = _parent(tree, path)
    target = node if isinstance(node, dict) else _parent(tree, path)[path[-1]]
    if isinstance(target, dict):
        target[UNKNOWN_KEYS[len(path) % len(UNKNOWN_KEYS)]] = value
    else:
        tree[UNKNOWN_KEYS[0]] = value


MUTATIONS = [replace_value, replace_value, replace_value, delete, add_unknown]


@st.composite
def mutated_tree(draw: st.DrawFn, files: list[Path]) -> tuple[Path, dict[str, Any], str]:
    """A bundled file's resolved mapping with one to three mutations; returns (file, tree, description)."""
    source = draw(st.sampled_from(files))
    tree = resolve_extends(source)
    if isinstance(tree.get("design"), str):  # a hall names its rack design relative to itself
        tree["design"] = str(source.parent / tree["design"])
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(tree))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        mutation = draw(st.sampled_from(MUTATIONS))
        value = copy.deepcopy(draw(st.sampled_from(HOSTILE_VALUES)))  # later mutations must not edit the list
        mutation(tree, path, value)
        done.append(f"{mutation.__name__}({'.'.join(map(str, path))}, {value!r})")
    return source, tree, "; ".join(done)


@contextlib.contextmanager
def scratch_file(name: str, data: bytes) -> Iterator[Path]:
    """A file of `data` in a fresh temporary folder (hypothesis examples cannot share pytest's tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="racksim-fuzz-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


def check_outcome(load: Callable[[], object], *sources: Path | str, structural: bool) -> InputError | None:
    """`load()` succeeds or raises a one-line InputError naming one of `sources` (and, if `structural`, a field)."""
    try:
        load()
    except InputError as caught:
        error = caught
    else:
        return None
    message = str(error)
    assert "\n" not in message, message
    assert "\r" not in message, message
    assert error.source in map(str, sources), message
    assert error.rule, message
    assert message == (f"{error.source}: {error.field_path}: {error.rule}" if error.field_path
                       else f"{error.source}: {error.rule}")
    if structural and not error.rule.startswith("invalid YAML"):
        assert FIELD_PATH.match(error.field_path), message
    return error


def check_cli(args: list[str], error: InputError | None) -> None:
    """`racksim ARGS` in process: exit 2 and exactly the error's line on stderr, or exit 0 and no stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(args)
    if error is None:
        assert (code, stderr.getvalue()) == (0, "")
    else:
        assert (code, stderr.getvalue()) == (2, f"racksim: error: {error}\n")


def dump(tree: dict[str, Any]) -> bytes:
    """YAML bytes of a mutated tree (NaN and infinity as .nan and .inf, unicode kept)."""
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode("utf-8")


# --------------------------------------------------------------------------- designs


@pytest.mark.slow
@given(case=mutated_tree(DESIGN_FILES))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mutated_design_loads_or_names_file_field_and_rule(case: tuple[Path, dict[str, Any], str]) -> None:
    source, tree, _ = case
    with scratch_file(source.name, dump(tree)) as path:
        error = check_outcome(lambda: load_design(path), path, structural=True)
        check_cli(["validate", str(path)], error)


@given(case=mutated_tree(SUITE_FILES))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mutated_suite_loads_or_names_file_field_and_rule(case: tuple[Path, dict[str, Any], str]) -> None:
    source, tree, _ = case
    with scratch_file(source.name, dump(tree)) as path:
        check_outcome(lambda: load_suite(str(path)), path, structural=True)


@pytest.mark.skipif(not HALL_FILES, reason="no bundled hall files")
@given(case=mutated_tree(HALL_FILES))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_mutated_hall_loads_or_names_file_field_and_rule(case: tuple[Path, dict[str, Any], str]) -> None:
    from racksim.run.loading_hall import load_target

    source, tree, _ = case
    with scratch_file(source.name, dump(tree)) as path:
        design = Path(tree["design"]) if isinstance(tree.get("design"), str) else path
        check_outcome(lambda: load_target(path), path, design, structural=True)


# --------------------------------------------------------------------------- raw bytes


@st.composite
def damaged_bytes(draw: st.DrawFn, files: list[Path]) -> bytes:
    """A bundled file truncated, with bytes spliced in, or with a byte flipped."""
    text = draw(st.sampled_from(files)).read_bytes()
    at = draw(st.integers(0, len(text)))
    kind = draw(st.sampled_from(["truncate", "splice", "flip"]))
    if kind == "truncate":
        return text[:at]
    if kind == "splice":
        return text[:at] + draw(st.binary(min_size=1, max_size=64)) + text[at:]
    flipped = (text[at % len(text)] ^ (1 << draw(st.integers(0, 7)))).to_bytes(1, "big")
    return text[:at % len(text)] + flipped + text[at % len(text) + 1:]


def _absolute_extends(data: bytes, source: Path) -> bytes:
    """Point a relative `extends:` at the parent's absolute path (the damaged copy lives elsewhere)."""
    return re.sub(rb"^extends: *(\S+)", lambda m: b"extends: " + str(source.parent).encode() + b"/" + m.group(1),
                  data, count=1, flags=re.MULTILINE)


@given(data=damaged_bytes(DESIGN_FILES))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_damaged_design_bytes(data: bytes) -> None:
    with scratch_file("damaged.yaml", data) as path:
        error = check_outcome(lambda: load_design(path), path, structural=False)
        if error is not None and error.source == str(path):
            check_cli(["validate", str(path)], error)


@given(data=damaged_bytes(SUITE_FILES))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_damaged_suite_bytes(data: bytes) -> None:
    with scratch_file("damaged.yaml", data) as path:
        check_outcome(lambda: load_suite(str(path)), path, structural=False)


@pytest.mark.parametrize("source", [p for p in DESIGN_FILES if b"extends:" in p.read_bytes()],
                         ids=lambda p: p.name)
def test_damaged_child_names_itself_not_its_parent(source: Path) -> None:
    data = _absolute_extends(source.read_bytes(), source)
    with scratch_file(source.name, data + b"\n\x00garbage") as path:
        assert check_outcome(lambda: load_design(path), path, structural=False) is not None


# --------------------------------------------------------------------------- --set overrides

OVERRIDE_VALUES = ["1", "0", "-1", "1e999", ".nan", "-.inf", "[1, 2", "{a: 1}", "", "null", "x" * 300,
                   "&a [*a]", "[" * 50 + "]" * 50, "!!python/object:os.system ls", "'quoted'"]


@st.composite
def override(draw: st.DrawFn) -> str:
    """`path=value` with a path from the GB200 design, a mangled one, or made up, and a hostile value."""
    tree = read_yaml_mapping(ROOT / "designs" / "gb200-nvl72.yaml")
    known = [".".join(map(str, p)) for p in _paths(tree)]
    path = draw(st.one_of(
        st.sampled_from(known),
        st.sampled_from(known).map(lambda p: p + ".nonexistent"),
        st.sampled_from(known).map(lambda p: p.replace(".", "..", 1)),
        st.lists(st.sampled_from(["rack", "slots", "0", "99", "-1", "u", "x", ""]), min_size=1, max_size=40)
        .map(".".join),
        st.text(max_size=30),
    ))
    value = draw(st.one_of(st.sampled_from(OVERRIDE_VALUES), st.text(max_size=20)))
    return f"{path}={value}" if draw(st.booleans()) or not path else path


@pytest.mark.slow
@given(text=override())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_hostile_override(text: str) -> None:
    design = ROOT / "designs" / "gb200-nvl72.yaml"
    error = check_outcome(lambda: load_design(design, [text]), "--set", design, structural=False)
    check_cli(["validate", str(design), "--set", text], error)


# --------------------------------------------------------------------------- extends


@pytest.mark.parametrize(("extends", "rule"), [
    ("missing.yaml", "parent missing.yaml not found"),
    ("self.yaml", "cycle: self.yaml -> self.yaml"),
    (".", "parent . not found"),
    ("", "must be the path of a parent design file"),
    ("[a, b]", "must be the path of a parent design file"),
    ("{a: b}", "must be the path of a parent design file"),
    ("12", "must be the path of a parent design file"),
    ("/dev/zero", "parent /dev/zero not found"),
])
def test_broken_extends(tmp_path: Path, extends: str, rule: str) -> None:
    path = tmp_path / "self.yaml"
    path.write_text(f"extends: {extends}\nname: x\n")
    error = check_outcome(lambda: load_design(path), path, structural=False)
    assert error is not None
    assert (error.field_path, error.rule) == ("extends", rule)
    check_cli(["validate", str(path)], error)
