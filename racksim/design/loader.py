"""Read YAML files safely, resolve `extends:`, apply `--set` overrides, validate with pydantic.

Every failure becomes an :class:`~racksim.errors.InputError`: one line with file, field path and rule.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from racksim.errors import InputError

MAX_FILE_BYTES = 1_000_000
MAX_EXTENDS_DEPTH = 16
ModelT = TypeVar("ModelT", bound=BaseModel)


class _BoundedLoader(yaml.SafeLoader):
    """Safe loader with budgets: alias uses, nesting depth, and values, as written and with aliases expanded.

    The composer and constructor recurse once per nesting level, so a deeper document would end in a
    RecursionError (and the scanner slows down quadratically with nested brackets); aliases share one node, so
    a document of a few lines can stand for 9⁹ values that validation, hashing or JSON would then walk one by
    one; and pure-Python YAML takes tens of µs per value, so a megabyte list would take most of a minute. The
    largest bundled file (designs/gb200-nvl72.yaml) holds under 1,000 values.
    """

    max_alias_uses = 10_000
    max_depth = 32
    max_nodes = 10_000

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - yaml's own signature
        if self.check_event(yaml.AliasEvent):
            self._alias_uses = getattr(self, "_alias_uses", 0) + 1
            if self._alias_uses > self.max_alias_uses:
                raise yaml.YAMLError(f"more than {self.max_alias_uses} alias uses")
            return super().compose_node(parent, index)
        self._nodes = getattr(self, "_nodes", 0) + 1
        if self._nodes > self.max_nodes:
            raise yaml.MarkedYAMLError(problem=f"more than {self.max_nodes} values",
                                       problem_mark=self.peek_event().start_mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > self.max_depth:
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {self.max_depth} levels",
                                           problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, token_class: Any) -> None:  # noqa: ANN401 - yaml's own signature
        """Refuse brackets nested deeper than the depth budget as soon as the scanner meets them."""
        if self.flow_level >= self.max_depth:
            raise yaml.MarkedYAMLError(problem=f"nested deeper than {self.max_depth} levels",
                                       problem_mark=self.get_mark())
        super().fetch_flow_collection_start(token_class)

    def compose_document(self) -> Any:  # noqa: ANN401 - yaml's own signature
        node = super().compose_document()
        if node is None:
            return node
        nodes, depth = expanded_extent(node)
        if nodes > self.max_nodes:
            raise yaml.YAMLError(f"aliases expand to more than {self.max_nodes} values")
        if depth > self.max_depth:
            raise yaml.YAMLError(f"aliases nest deeper than {self.max_depth} levels")
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Refuse a key repeated in one mapping (YAML would silently keep the last), or a list or mapping as a key."""
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value, not a list or mapping", key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def expanded_extent(root: yaml.Node) -> tuple[int, int]:
    """(nodes, depth) of a composed document once every alias is replaced by a copy of its anchor.

    Iterative and memoized per node, so it costs the composed graph's size whatever the expansion;
    raises yaml.YAMLError for an alias inside its own anchor (a recursive value).
    """
    extent: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in extent:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            extent[id(node)] = (1 + sum(extent[id(c)][0] for c in children),
                                1 + max((extent[id(c)][1] for c in children), default=0))
            continue
        if id(node) in open_nodes:
            raise yaml.YAMLError("an alias refers to a node that contains it (a recursive value)")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in extent)
    return extent[id(root)]


def safe_load_bounded(text: str) -> Any:  # noqa: ANN401 - any YAML value
    """Parse YAML text with the safe, bounded loader (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_BoundedLoader)


@functools.lru_cache(maxsize=64)
def _parsed_file(text: str) -> Any:  # noqa: ANN401 - any YAML value
    """`safe_load_bounded(text)`, remembered (pure-Python YAML takes ~50 ms for a design).

    A run, a compare or a hall reads the same design files many times: each `extends:` chain, every request,
    the hall check.
    """
    return safe_load_bounded(text)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Load one YAML file that must hold a mapping."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, "", "file not found") from None
    except OSError as exc:
        raise InputError(source, "", f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(source, "", f"file larger than {MAX_FILE_BYTES} bytes")
    try:
        data = copy.deepcopy(_parsed_file(raw.decode("utf-8")))  # a copy: callers change what they get
    except UnicodeDecodeError:
        raise InputError(source, "", "not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(source, "", f"invalid YAML{where}: {problem}") from None
    if data is None:
        raise InputError(source, "", "file is empty")
    if not isinstance(data, dict):
        raise InputError(source, "", f"must be a YAML mapping, not {type(data).__name__}")
    return data


def deep_merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Child keys win; nested mappings merge recursively; lists and scalars are replaced whole."""
    merged = copy.deepcopy(dict(parent))
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def is_file(path: Path) -> bool:
    """Whether `path` is a file; False too where the system cannot look the name up (too long, say)."""
    try:
        return path.is_file()
    except OSError:
        return False


def resolve_extends(path: Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load `path` and merge it over the parent it `extends:` (relative to its own folder)."""
    if path.resolve() in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path.resolve()))
        raise InputError(str(path), "extends", f"cycle: {cycle}")
    if len(_chain) >= MAX_EXTENDS_DEPTH:
        raise InputError(str(path), "extends", f"deeper than {MAX_EXTENDS_DEPTH} levels")
    data = read_yaml_mapping(path)
    if "extends" not in data:
        return data
    parent_name = data.pop("extends")
    if not isinstance(parent_name, str) or not parent_name:
        raise InputError(str(path), "extends", "must be the path of a parent design file")
    parent_path = path.parent / parent_name
    if not is_file(parent_path):
        raise InputError(str(path), "extends", f"parent {parent_name} not found")
    return deep_merge(resolve_extends(parent_path, (*_chain, path.resolve())), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.0.c=value`` into its path and its value parsed as a YAML scalar."""
    if "=" not in text:
        raise InputError("--set", text, "expected dotted.path=value")
    path_text, value_text = text.split("=", 1)
    parts = path_text.strip().split(".")
    if not all(parts):
        raise InputError("--set", path_text, "empty segment in the field path")
    try:
        value = safe_load_bounded(value_text) if value_text.strip() else None
    except yaml.YAMLError:
        raise InputError("--set", path_text, f"cannot parse value {value_text!r}") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str | tuple[list[str], Any]]) -> dict[str, Any]:
    """Set each dotted path (mappings are created, list items are addressed by index)."""
    data = copy.deepcopy(data)
    for override in overrides:
        parts, value = parse_override(override) if isinstance(override, str) else override
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise InputError("--set", where, f"no item {part} in a list of {len(node)}")
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise InputError("--set", where, "parent field is a value, not a mapping or list")
    return data


def format_location(location: Iterable[int | str]) -> str:
    """Pydantic error location as a dotted field path."""
    return ".".join(str(part) for part in location)


def validate(model: type[ModelT], data: Mapping[str, Any], source: str) -> ModelT:
    """Validate `data` against `model`; the first problem becomes a one-line InputError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        rule = first["msg"].removeprefix("Value error, ")
        location = format_location(first["loc"])
        if first["type"] == "field_rule":
            location = ".".join(filter(None, (location, first["ctx"]["field"])))
        elif first["type"] == "extra_forbidden":
            rule = "unknown field"
        elif first["type"] == "missing":
            rule = "required field missing"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(source, location, rule + more) from None


def load_model(
    model: type[ModelT], path: Path, overrides: Iterable[str | tuple[list[str], Any]] = ()
) -> tuple[ModelT, dict[str, Any]]:
    """Load, merge, override and validate a YAML file; return the model and the resolved mapping."""
    data = apply_overrides(resolve_extends(Path(path)), overrides)
    return validate(model, data, str(path)), data
