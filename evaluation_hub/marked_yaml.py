"""YAML configuration read with its line numbers, so that a refusal names the line at fault.

``read_marked(path)`` parses with PyYAML's safe loader (no Python tags, no arbitrary objects)
and returns a tree of :class:`Marked` values: each scalar as the safe loader constructs it (str,
int, float, bool, date, None), each mapping as ``dict[str, Marked]`` and each sequence as
``list[Marked]``, every one carrying the 1-based line it starts on. A syntax error, a
duplicate key or a non-text key is refused as :class:`MarkedError` with the file and line.

Used by the regulation file (``evaluation_hub.regulation_file``) and the holiday tables
(``evaluation_hub.supervision.holiday_tables``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation_hub.errors import ConfigError

__all__ = ["Marked", "MarkedError", "parse_marked", "read_marked"]


class MarkedError(ConfigError):
    """A configuration file is refused: ``path``, ``line`` (1-based) and what is wrong."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        super().__init__(f"{path}:{line}: {problem}")


@dataclass(frozen=True)
class Marked:
    """One value of the document and the line it starts on."""

    value: Any
    line: int
    #: in a mapping: the line of this value's key (a nested mapping starts on the next line)
    key_line: int = 0

    def mapping(self, path: Path | str, what: str) -> dict[str, Marked]:
        if not isinstance(self.value, dict):
            raise MarkedError(path, self.line, f"{what} must be a mapping (key: value lines)")
        return self.value

    def sequence(self, path: Path | str, what: str) -> list[Marked]:
        if not isinstance(self.value, list):
            raise MarkedError(path, self.line, f"{what} must be a list (lines starting with -)")
        return self.value


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path | str) -> Marked:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # merge keys (<<) as the safe loader resolves them
        out: dict[str, Marked] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key_line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise MarkedError(path, key_line, f"key {key!r} must be text")
            if key in out:
                raise MarkedError(
                    path, key_line, f"key {key!r} appears twice (first on line {out[key].key_line})"
                )
            value = _build(loader, value_node, path)
            out[key] = Marked(value.value, value.line, key_line)
        return Marked(out, line)
    if isinstance(node, yaml.SequenceNode):
        return Marked([_build(loader, item, path) for item in node.value], line)
    try:
        return Marked(loader.construct_object(node, deep=True), line)
    except ValueError as exc:  # a timestamp-shaped scalar that is no date, e.g. 2027-02-30
        raise MarkedError(path, line, f"{node.value!r} is not a valid value: {exc}") from exc


def parse_marked(text: str, path: Path | str) -> Marked:
    """The document in ``text`` (named ``path`` in refusals); an empty document is ``{}``."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Marked({}, 1)
        return _build(loader, node, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise MarkedError(path, line, f"not valid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise MarkedError(path, 1, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def read_marked(path: Path) -> Marked:
    """The document in the file ``path`` (UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    return parse_marked(text, path)
