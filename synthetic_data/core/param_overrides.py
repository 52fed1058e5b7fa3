"""Parameter overrides: changes to the packaged parameter files for one generation run.

An override has the shape of the files it changes, ``{file name: {nested keys: value}}``, and is
deep-merged onto the packaged files: a mapping merges key by key, anything else (a number, a
list) replaces the packaged value. So a trainer writes only what differs,

    capture:
      sources:
        cafcass:
          rates: {typo: 0.0}

and the merged file is checked exactly as a packaged one is. A key takes the type the packaged
file gives it (YAML reads ``2016:`` as a number, a Python caller may write ``"2016"``), so the
code that reads the parameters sees one kind of key.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from synthetic_data.core.errors import InputError, ParameterError


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key written twice in one mapping is an error: plain PyYAML
    keeps the last silently, so a pasted duplicate would change a rate without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """Parse YAML text as ``yaml.safe_load`` does, refusing repeated keys."""
    return yaml.load(text, Loader=UniqueKeyLoader)


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML syntax error in one line: what is wrong, and on which line."""
    mark = getattr(error, "problem_mark", None)
    line = f" at line {mark.line + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"not valid YAML{line}: {problem}"


def read_overrides(path: Path) -> dict[str, Any]:
    """A YAML file of overrides (the CLI's ``--params``), checked for its shape only: the
    parameter set built from it checks the values."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--params {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--params {path}: cannot be read ({error})") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as error:
        raise InputError(f"--params {path}: {yaml_problem(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InputError(f"--params {path}: must map parameter file names (such as capture) to the "
                         "keys they change")
    return dict(data)


def merge(name: str, base: Mapping[str, Any], override: Any) -> dict[str, Any]:
    """``base`` (a packaged file, never changed) with ``override`` deep-merged onto it."""
    if not isinstance(override, Mapping):
        raise ParameterError(name, (), "an override must be a mapping of the file's keys to new "
                                       f"values, not {override!r}")
    return _merge(base, override)


def _merge(base: Mapping, override: Mapping) -> dict:
    out = dict(base)
    for raw_key, value in override.items():
        key = _same_key(base, raw_key)
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _same_key(base: Mapping, key: Any) -> Any:
    """The packaged file's spelling of ``key``: "2016" for a file keyed by the number 2016."""
    if key in base:
        return key
    text = str(key)
    for existing in base:
        if str(existing) == text:
            return existing
    if base and isinstance(key, str) and key.isdigit() and all(
            isinstance(k, int) and not isinstance(k, bool) for k in base):
        return int(key)
    return key


def jsonable(value: Any) -> Any:
    """``value`` with mapping keys as text and tuples as lists, for JSON (the manifest)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def digest(value: Any) -> str:
    """SHA-256 of ``value`` as canonical JSON: the same parameters give the same digest."""
    text = json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
