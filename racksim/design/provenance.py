"""Where a design's numbers come from: the P/S/D/A source tags in the comments of its YAML files.

Design files cite a source for every number in a comment, tagged P (primary), S (secondary), D (derived
here) or A (assumption). This module reads those comments back: an inline comment belongs to the field
on its line (a list item for a ``- {...}`` line), a comment block directly above a field belongs to that
field, and a comment line indented past the next field continues the comment above it. Parents named by
``extends:`` are read first; a child's scalar or list replaces the parent's notes on it, and an
override (``--set`` or a scenario's ``design_overrides``) replaces them with a note saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from racksim.design.loader import MAX_EXTENDS_DEPTH, parse_override, read_yaml_mapping

TAGS = "PSDA"
TAG_NAMES = {"P": "primary", "S": "secondary", "D": "derived", "A": "assumption"}
_TAG = re.compile(r"(?<![\w./])([PSDA](?:/[PSDA])*)(?:\s*\([^)]*\))?(?::|\s*$|\s*;)")
"""A tag: letters ("P", "P/D"), maybe a parenthesis ("P (Hopper):"), then a colon, a semicolon or the end."""


@dataclass(frozen=True)
class Note:
    """The source note of one design field."""

    tags: str
    """The tag letters found, in PSDA order ("" for an override)."""
    note: str
    """The comment text, lines joined."""
    file: str
    """The design file (name only) the note is in, or "override"."""


def tags_in(comment: str) -> str:
    """The P/S/D/A tags a comment carries, in PSDA order."""
    found = {letter for match in _TAG.finditer(comment) for letter in match.group(1).split("/")}
    return "".join(tag for tag in TAGS if tag in found)


def _split_comment(line: str) -> tuple[str, str | None, int]:
    """(code, comment text or None, column of '#') of one YAML line; a '#' inside quotes is not a comment."""
    quote = None
    for column, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (column == 0 or line[column - 1] in " \t"):
            return line[:column], line[column + 1:].strip(), column
    return line, None, -1


def _node_lines(node: yaml.Node, path: tuple[str, ...], lines: dict[int, tuple[str, ...]],
                replaced: list[tuple[str, ...]]) -> None:
    """Record the shallowest field path starting on each line, and the paths a child file replaces."""
    if isinstance(node, yaml.MappingNode):
        items: Iterable[tuple[str, yaml.Node, int]] = (
            (str(key.value), value, key.start_mark.line) for key, value in node.value)
    elif isinstance(node, yaml.SequenceNode):
        items = ((str(index), item, item.start_mark.line) for index, item in enumerate(node.value))
        replaced.append(path)
    else:
        replaced.append(path)
        return
    for key, value, line in items:
        child = (*path, key)
        if line not in lines or len(lines[line]) > len(child):
            lines[line] = child
        _node_lines(value, child, lines, replaced)


def _comments(text: str, lines: dict[int, tuple[str, ...]]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(field path, comment text) for every comment of a file, following the rules of the module docstring."""
    rows = text.splitlines()
    owner: tuple[str, ...] | None = None  # the path the last code line's comment went to
    block: list[str] = []
    for number, line in enumerate(rows):
        code, comment, column = _split_comment(line)
        if not code.strip():
            if comment is None:
                block, owner = [], None
                continue
            following = next((r for r in rows[number + 1:] if _split_comment(r)[0].strip()), "")
            indent = len(following) - len(following.lstrip())
            if owner is not None and not block and column > indent:
                yield owner, comment
            else:
                block.append(comment)
            continue
        path = lines.get(number) or next((lines[n] for n in range(number, -1, -1) if n in lines), None)
        if path is None:
            block, owner = [], None
            continue
        for previous in block:
            yield path, previous
        block = []
        owner = path if comment is not None else None
        if comment is not None:
            yield path, comment


def file_notes(path: Path) -> tuple[dict[str, Note], list[str]]:
    """The tagged notes of one design file by dotted field path, and the paths whose value it replaces."""
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[int, tuple[str, ...]] = {}
    replaced: list[tuple[str, ...]] = []
    if root is not None:
        _node_lines(root, (), lines, replaced)
    texts: dict[str, list[str]] = {}
    for field_path, comment in _comments(text, lines):
        texts.setdefault(".".join(field_path), []).append(comment)
    notes = {}
    for name, parts in texts.items():
        joined = " ".join(" ".join(parts).split())
        if tags_in(joined):
            notes[name] = Note(tags_in(joined), joined, path.name)
    return notes, [".".join(p) for p in replaced if p and p != ("extends",)]


def _drop(notes: dict[str, Note], field: str) -> None:
    for name in [n for n in notes if n == field or n.startswith(field + ".")]:
        del notes[name]


def design_notes(path: str | Path, overrides: Iterable[str | tuple[list[str], Any]] = ()) -> dict[str, Note]:
    """The tagged notes of a design file and the parents it extends, after its overrides, by field path."""
    chain = [Path(path)]
    while len(chain) <= MAX_EXTENDS_DEPTH:
        parent = read_yaml_mapping(chain[-1]).get("extends")
        if not isinstance(parent, str) or (chain[-1].parent / parent).resolve() in {p.resolve() for p in chain}:
            break
        chain.append(chain[-1].parent / parent)
    notes: dict[str, Note] = {}
    for file in reversed(chain):
        own, replaced = file_notes(file)
        for field in replaced:
            _drop(notes, field)
        notes |= own
    for override in overrides:
        parts, value = parse_override(override) if isinstance(override, str) else override
        field = ".".join(parts)
        _drop(notes, field)
        notes[field] = Note("", f"overridden: {field}={value!r}", "override")
    return dict(sorted(notes.items()))


def notes_json(notes: dict[str, Note]) -> dict[str, dict[str, str]]:
    """The notes as JSON-able mappings (provenance.json)."""
    return {field: asdict(note) for field, note in notes.items()}
