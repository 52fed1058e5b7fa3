"""Checks a parameter file against its JSON Schema and says what is wrong in one line.

The schemas are data (``params/schemas/<name>.schema.yaml``, JSON Schema draft 2020-12 written
in YAML), so what a file may hold is read beside the file, not in code. This module validates
with the ``jsonschema`` library and turns its first error into a :class:`ParameterError` naming
the key path and what is allowed, worded from the schema itself: the constraint that failed
("a number from 0 to 1") and the ``description`` of the value ("share of boys at birth").

Three liberties with the standard, all stricter or additive:

- ``integer`` means a whole number written without a decimal point, and ``number`` a finite one
  (YAML reads ``12.0`` as a float and ``.nan`` as a number; neither is what a count means);
- mapping keys may be integers, as YAML reads years and quintiles, and ``propertyNames`` checks
  them as integers;
- keywords of the generator's own: ``sumsTo`` (a list's numbers, or a mapping's values, add up
  to the given total, within 1e-6 or the schema's ``sumWithin``) and ``ascending`` (each number
  at least the one before).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from synthetic_data.core.errors import Index, ParameterError

SCHEMA_DIR = Path(__file__).parents[1] / "params" / "schemas"
SCHEMA_BASE = "https://family-justice-data-training.invalid/params/schemas/"
COMMON = "common.schema.yaml"
SUM_TOLERANCE = 1e-6
# Schema keywords that step from a value to a value inside it (a key's value, a list item).
_DESCEND_ONE = frozenset({"additionalProperties", "items", "propertyNames", "contains"})
_DESCEND_TWO = frozenset({"properties", "patternProperties", "prefixItems"})
_WEAK = frozenset({"anyOf", "oneOf"})


# --- The validator: draft 2020-12 with YAML-minded types and two keywords of our own ---


def _is_integer(_checker: object, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(_checker: object, value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_array(_checker: object, value: object) -> bool:
    return isinstance(value, list | tuple)


def _numbers(validator: Any, instance: object) -> list[float] | None:
    """The numbers of a list or the values of a mapping; None if any is not a number (the
    ``type`` of each item reports that)."""
    if isinstance(instance, Mapping):
        values = list(instance.values())
    elif isinstance(instance, list | tuple):
        values = list(instance)
    else:
        return None
    return values if all(validator.is_type(v, "number") for v in values) else None


def _sums_to(validator: Any, total: float, instance: object, schema: dict) -> Iterator[ValidationError]:
    values = _numbers(validator, instance)
    within = schema.get("sumWithin", SUM_TOLERANCE)
    if values and abs(math.fsum(values) - total) > within:
        yield ValidationError(f"the values sum to {_number(math.fsum(values))}, not {_number(total)}")


def _ascending(validator: Any, wanted: bool, instance: object, _schema: dict) -> Iterator[ValidationError]:
    values = _numbers(validator, instance) if isinstance(instance, list | tuple) else None
    if wanted and values and any(b < a for a, b in zip(values, values[1:], strict=False)):
        yield ValidationError("not in ascending order")


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"integer": _is_integer, "number": _is_number, "array": _is_array})
ParameterValidator = validators.extend(
    Draft202012Validator, validators={"sumsTo": _sums_to, "ascending": _ascending},
    type_checker=_TYPES)


@cache
def schema_documents() -> dict[str, dict]:
    """Every schema in params/schemas/, by file name (read once)."""
    documents = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.yaml")):
        with path.open(encoding="utf-8") as handle:
            documents[path.name] = yaml.safe_load(handle)
    return documents


@cache
def _validator(name: str) -> Any:
    documents = schema_documents()
    if f"{name}.schema.yaml" not in documents:
        raise ParameterError(name, (), f"has no schema: write params/schemas/{name}.schema.yaml")
    registry = Registry().with_resources(
        (SCHEMA_BASE + file, Resource.from_contents(doc, default_specification=DRAFT202012))
        for file, doc in documents.items())
    return ParameterValidator(documents[f"{name}.schema.yaml"], registry=registry)


def check_schema(name: str, data: object) -> None:
    """Raise :class:`ParameterError` if ``data`` (parameter file ``name``) breaks its schema."""
    error = best_match(_validator(name).iter_errors(data), key=_relevance)
    if error is not None:
        path, problem = _explain(name, error, data)
        raise ParameterError(name, path, problem)


def _relevance(error: ValidationError) -> tuple:
    """jsonschema's ranking (shallow errors first, anyOf and oneOf last), with key paths
    compared as text: YAML mapping keys may be integers beside strings."""
    return (-len(error.path), tuple(str(part) for part in error.path), error.validator not in _WEAK)


# --- Explaining an error: the key path, the value and what is allowed ---


def _explain(name: str, error: ValidationError, data: object) -> tuple[list, str]:
    if (error.validator == "required" and error.parent is not None
            and error.parent.validator in ("oneOf", "anyOf")):
        error = error.parent  # "has no locale" misleads where one of several keys is wanted
    path = _instance_path(data, error.absolute_path)
    tokens = list(error.absolute_schema_path)
    layers = _walk(name, tokens[:-1], error.schema)
    keyword = error.validator
    instance = error.instance
    if "propertyNames" in tokens:
        return [*path, instance], f"unknown key (allowed: {_allowed(layers)})"
    if keyword == "additionalProperties":
        known = _property_names(layers)
        extra = next(key for key in instance if key not in known)
        return [*path, extra], f"unknown key (allowed: {', '.join(map(str, known)) or 'none'})"
    if keyword == "required":
        missing = next(key for key in error.validator_value if key not in instance)
        wanted = _property_layers(layers, missing)
        return [*path, missing], f"missing key ({_allowed(wanted) if wanted else 'required'})"
    if keyword == "dependentRequired":
        key = next(k for k, needs in error.validator_value.items()
                   if k in instance and any(n not in instance for n in needs))
        return [*path, key], f"only allowed with {', '.join(error.validator_value[key])}"
    if keyword == "sumsTo":
        return path, f"{error.message} ({_allowed(layers)})"
    if keyword == "uniqueItems":
        repeated = next(v for i, v in enumerate(instance) if v in list(instance)[:i])
        return path, f"{_show(repeated)} appears more than once ({_allowed(layers)})"
    if keyword in ("minProperties", "maxProperties"):
        return path, f"{len(instance)} keys is not allowed ({_allowed(layers)})"
    if not path and keyword == "type":
        return path, f"the file must hold a mapping of keys to values, not {_show(instance)}"
    return path, f"{_show(instance)} is not allowed ({_allowed(layers)})"


def _instance_path(data: object, path: Sequence) -> list:
    """The error's path, with list positions marked as :class:`Index` (integers alone may be
    mapping keys, such as years)."""
    out: list = []
    node = data
    for part in path:
        if isinstance(node, list | tuple):
            out.append(Index(part))
        else:
            out.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _lookup(ref: str, document: str) -> tuple[dict, str]:
    """The schema a ``$ref`` names: ``#/$defs/x`` in this document, ``file#/$defs/x`` in another."""
    file, _, pointer = ref.partition("#")
    document = file.rsplit("/", 1)[-1] if file else document
    node: Any = schema_documents()[document]
    for part in (p for p in pointer.split("/") if p):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, document


def _layers(schema: dict, document: str) -> list[tuple[dict, str]]:
    """A schema and those its ``$ref`` chain leads to, nearest first."""
    out = [(schema, document)]
    while isinstance(schema, dict) and "$ref" in schema:
        schema, document = _lookup(schema["$ref"], document)
        out.append((schema, document))
    return out


def _walk(name: str, tokens: list, target: dict) -> list[tuple[dict, str]]:
    """The schemas that apply to the value where an error is, nearest first: the error's schema
    path followed from the file's schema to ``target``, the schema holding the failing keyword.

    jsonschema leaves ``$ref`` out of the path, so at each step the walk may first follow a
    reference; it tries the schema's own keyword first and keeps the route that ends at
    ``target``.
    """
    document = f"{name}.schema.yaml"
    root = schema_documents()[document]
    found = _route(root, document, tokens, [(root, document)], target)
    return found if found is not None else [(target, document)]


def _route(schema: Any, document: str, tokens: list, layers: list, target: dict) -> list | None:
    if not tokens and schema is target:
        return layers
    if isinstance(schema, dict) and tokens:
        token = tokens[0]
        two = token in _DESCEND_TWO or token in ("anyOf", "oneOf", "allOf")
        if token in schema and (not two or _has(schema[token], tokens[1])):
            inner = schema[token][tokens[1]] if two else schema[token]
            fresh = token in _DESCEND_ONE or token in _DESCEND_TWO
            found = _route(inner, document, tokens[2 if two else 1:],
                           [(inner, document)] if fresh else [*layers, (inner, document)], target)
            if found is not None:
                return found
    if isinstance(schema, dict) and "$ref" in schema:
        inner, elsewhere = _lookup(schema["$ref"], document)
        return _route(inner, elsewhere, tokens, [*layers, (inner, elsewhere)], target)
    return None


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return isinstance(container, dict) and key in container


def _merged(layers: list[tuple[dict, str]]) -> tuple[dict, dict[str, str]]:
    """The keywords of several schemas, the nearest winning, with the document each came from."""
    merged: dict = {}
    documents: dict[str, str] = {}
    for schema, document in layers:
        for key, value in (schema.items() if isinstance(schema, dict) else ()):
            if key not in merged:
                merged[key] = value
                documents[key] = document
    return merged, documents


def _property_names(layers: list[tuple[dict, str]]) -> list:
    names: list = []
    for schema, _ in layers:
        names += [key for key in schema.get("properties", {}) if key not in names]
    return names


def _property_layers(layers: list[tuple[dict, str]], key: str) -> list[tuple[dict, str]]:
    out = []
    for schema, document in layers:
        if key in schema.get("properties", {}):
            out += _layers(schema["properties"][key], document)
    return out


def _allowed(layers: list[tuple[dict, str]]) -> str:
    """What the schema allows, then what the value is: "a number from 0 to 1; share of boys"."""
    full = [layer for schema, document in layers for layer in _layers(schema, document)]
    merged, _ = _merged(full)
    phrase = _phrase(full)
    meaning = merged.get("description")
    return f"{phrase}; {meaning}" if meaning and meaning != phrase else phrase


def _phrase(layers: list[tuple[dict, str]]) -> str:
    """A schema's constraints in words."""
    s, documents = _merged(layers)
    if "const" in s:
        return f"exactly {_show(s['const'])}"
    if "enum" in s:
        return "one of " + ", ".join(map(str, s["enum"]))
    kind = s.get("type")
    if kind in ("number", "integer"):
        return _number_phrase(s, "a whole number" if kind == "integer" else "a number")
    if kind == "string":
        text = "non-empty text" if s.get("minLength", 0) >= 1 else "text"
        if "pattern" in s:
            text += f" matching {s['pattern']}"
        if "not" in s:
            text += ", but not " + _phrase(_layers(s["not"], documents["not"]))
        return text
    if kind == "array":
        return _array_phrase(s, documents)
    if kind == "object" and "oneOf" in s:
        return _phrase([({"oneOf": s["oneOf"]}, documents["oneOf"])])
    if kind == "object":
        text = "a mapping of keys to values"
        if "sumsTo" in s:
            text += f", whose values sum to {_number(s['sumsTo'])}{_within(s)}"
        return text
    if kind == "boolean":
        return "true or false"
    if "oneOf" in s:
        options = [b.get("description") or _phrase(_layers(b, documents["oneOf"])) for b in s["oneOf"]]
        return "exactly one of: " + "; ".join(options)
    if "anyOf" in s:
        return " or ".join(_phrase(_layers(b, documents["anyOf"])) for b in s["anyOf"])
    return "a value as described"


def _number_phrase(s: dict, noun: str) -> str:
    low, high = s.get("minimum"), s.get("maximum")
    if low is not None and high is not None:
        return f"{noun} from {_number(low)} to {_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"of {_number(low)} or more")
    if "exclusiveMinimum" in s:
        parts.append(f"above {_number(s['exclusiveMinimum'])}")
    if high is not None:
        parts.append(f"at most {_number(high)}")
    if "exclusiveMaximum" in s:
        parts.append(f"below {_number(s['exclusiveMaximum'])}")
    return " ".join([noun, " and ".join(parts)]).strip()


def _array_phrase(s: dict, documents: dict[str, str]) -> str:
    low, high = s.get("minItems"), s.get("maxItems")
    if low is not None and low == high:
        count = f"{low} item" + ("s" if low != 1 else "")
    elif low:
        count = f"at least {low} item" + ("s" if low != 1 else "")
    else:
        count = "items"
    text = f"a list of {count}"
    if "prefixItems" in s:
        parts = [_phrase(_layers(p, documents["prefixItems"])) for p in s["prefixItems"]]
        text += ": " + ", then ".join(parts)
    elif "items" in s:
        text += ", each " + _phrase(_layers(s["items"], documents["items"]))
    if s.get("uniqueItems"):
        text += ", none repeated"
    if "sumsTo" in s:
        text += f", summing to {_number(s['sumsTo'])}" + _within(s)
    if s.get("ascending"):
        text += ", each at least the one before"
    return text


def _within(s: dict) -> str:
    return f" (within {_number(s['sumWithin'])})" if "sumWithin" in s else ""


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show(value: object) -> str:
    """A value as a YAML reader would write it, shortened if long."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
