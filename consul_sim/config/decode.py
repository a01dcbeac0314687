"""Decoding a config entry the way Consul's ``structs.DecodeConfigEntry`` does.

Consul does not use encoding/json here: it reads the body into a generic map, picks the kind from
the exact key ``Kind`` (or else ``kind``), rewrites snake_case aliases to their CamelCase field,
and runs mapstructure with weak typing, which matches field names case-insensitively, coerces
scalars (``"9"`` -> 9), wraps a single object where a list is wanted, and unwraps a one-item list
where an object is wanted (HCL blocks arrive as lists). Keys nothing consumed are refused, each by
its full path, as one multi-error. The messages here carry no prefix: the HTTP layer adds
``Request decoding failed: ``, the CLI ``Failed to decode config entry input: ``.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from consul_sim.durations import DurationError, Nanoseconds, parse_duration
from consul_sim.errors import BadRequest
from consul_sim.gostd import NumError, parse_bool, parse_float, parse_int
from consul_sim.models.base import consul_alias
from consul_sim.models.config_entries import ENTRY_CLASSES, KNOWN_KINDS, ConfigEntryBase, EntryModel

IGNORED_TOP_LEVEL = frozenset({"CreateIndex", "ModifyIndex", "kind", "Kind"})


class ConfigDecodeError(BadRequest):
    """A body Consul cannot turn into a config entry; ``message`` is Consul's bare text."""


def multierror(errors: list[str]) -> str:
    """go-multierror's list format."""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def entry_kind(raw: Any) -> str:
    """The kind a payload names, by the exact key ``Kind`` or else ``kind``."""
    value: Any = None
    if isinstance(raw, dict):
        if "Kind" in raw:
            value = raw["Kind"]
        elif "kind" in raw:
            value = raw["kind"]
        else:
            raise ConfigDecodeError("Payload does not contain a kind/Kind key at the top level")
    else:
        raise ConfigDecodeError("Payload does not contain a kind/Kind key at the top level")
    if not isinstance(value, str):
        raise ConfigDecodeError("Kind value in payload is not a string")
    return value


def entry_class(kind: str) -> type[ConfigEntryBase]:
    """The model of a kind; Consul matches kinds case-sensitively."""
    cls = ENTRY_CLASSES.get(kind)
    if cls is not None:
        return cls
    if kind in KNOWN_KINDS:
        raise ConfigDecodeError(f"config entry kind {kind} is not simulated by consul-sim")
    raise ConfigDecodeError(f"invalid config entry kind: {kind}")


def decode_entry(raw: Any) -> ConfigEntryBase:
    """A generic map (parsed JSON or HCL) to its entry model, or ConfigDecodeError."""
    if raw is not None and not isinstance(raw, dict):
        raise ConfigDecodeError(
            f"json: cannot unmarshal {_json_kind(raw)} into Go value of type "
            "map[string]interface {}"
        )
    cls = entry_class(entry_kind(raw))
    decoder = _Decoder()
    fields = decoder.struct(cls, raw, "")
    if decoder.errors:
        points = "\n".join(sorted(f"* {e}" for e in decoder.errors))
        raise ConfigDecodeError(f"{len(decoder.errors)} error(s) decoding:\n\n{points}")
    problems: list[str] = []
    for key in decoder.unused:
        if key in IGNORED_TOP_LEVEL:
            continue
        if key.lower().endswith("namespace"):
            problems.append(
                f'invalid config key "{key}", namespaces are a consul enterprise feature'
            )
        else:
            problems.append(f'invalid config key "{key}"')
    if problems:
        raise ConfigDecodeError(multierror(problems))
    return cls.model_validate(fields)


# -- mapstructure, weakly typed ------------------------------------------------------------------
class _Decoder:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.unused: list[str] = []

    def struct(self, cls: type[EntryModel], data: Any, path: str) -> dict[str, Any]:
        data = _unwrap_single(data)
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.errors.append(f"'{path}' expected a map, got '{_go_kind(data)}'")
            return {}
        data = _translate_aliases(cls, data)
        hints = _hints(cls)
        unused = list(data)
        out: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            field_name = info.alias or consul_alias(name)
            key = _match_key(field_name, unused)
            if key is None:
                continue
            unused.remove(key)
            if name in cls.not_decoded:
                continue
            sub = f"{path}.{field_name}" if path else field_name
            value = self.value(hints[name], data[key], sub)
            if value is not _MISSING:
                out[name] = value
        self.unused.extend(sorted(f"{path}.{key}" if path else key for key in unused))
        return out

    def value(self, tp: Any, data: Any, path: str) -> Any:
        origin = get_origin(tp)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if data is None:
                return None
            return self.value(args[0], data, path)
        if data is None:
            return _MISSING
        if tp is Any:
            return data
        if origin is Literal:
            return _MISSING
        if origin is list:
            (item,) = get_args(tp)
            if isinstance(data, dict):
                data = [] if not data else [data]
            elif not isinstance(data, list):
                data = [data]
            out = []
            for i, element in enumerate(data):
                decoded = self.value(item, element, f"{path}[{i}]")
                out.append(_zero(item) if decoded is _MISSING else decoded)
            return out
        if origin is dict:
            _, item = get_args(tp)
            if isinstance(data, list):
                merged: dict[str, Any] = {}
                for element in data:
                    if isinstance(element, dict):
                        merged.update(element)
                    else:
                        self.errors.append(f"'{path}' expected a map, got '{_go_kind(data)}'")
                        return _MISSING
                data = merged
            if not isinstance(data, dict):
                self.errors.append(f"'{path}' expected a map, got '{_go_kind(data)}'")
                return _MISSING
            if item is Any:
                return data
            return {
                str(k): v
                for k, v in ((k, self.value(item, v, f"{path}[{k}]")) for k, v in data.items())
                if v is not _MISSING
            }
        if isinstance(tp, type) and issubclass(tp, EntryModel):
            return self.struct(tp, data, path)
        data = _unwrap_single(data)
        if tp is Nanoseconds:
            return self.duration(data, path)
        if tp is str:
            return self.string(data, path)
        if tp is bool:
            return self.boolean(data, path)
        if tp is int:
            return self.integer(data, path)
        if tp is float:
            return self.floating(data, path)
        return data

    def _unconvertible(self, want: str, data: Any, path: str) -> object:
        self.errors.append(
            f"'{path}' expected type '{want}', got unconvertible type "
            f"'{_go_type(data)}', value: '{data}'"
        )
        return _MISSING

    def string(self, data: Any, path: str) -> Any:
        if isinstance(data, str):
            return data
        if isinstance(data, bool):
            return "1" if data else "0"
        if isinstance(data, int):
            return str(data)
        if isinstance(data, float):
            return repr(data).removesuffix(".0") if data.is_integer() else repr(data)
        return self._unconvertible("string", data, path)

    def floating(self, data: Any, path: str) -> Any:
        """mapstructure's weak float: numbers and bools convert, a string is ParseFloat'd."""
        if isinstance(data, bool):
            return 1.0 if data else 0.0
        if isinstance(data, int | float):
            return float(data)
        if isinstance(data, str):
            if data == "":
                return 0.0
            try:
                return parse_float(data)
            except NumError as exc:
                self.errors.append(f"cannot parse '{path}' as float: {exc}")
                return _MISSING
        return self._unconvertible("float32", data, path)

    def duration(self, data: Any, path: str) -> Any:
        """``StringToTimeDurationHookFunc``: a string is a Go duration, a number nanoseconds."""
        if isinstance(data, str):
            try:
                return round(parse_duration(data) * 1e9)
            except DurationError as exc:
                self.errors.append(f"error decoding '{path}': {exc}")
                return _MISSING
        return self.integer(data, path)

    def boolean(self, data: Any, path: str) -> Any:
        if isinstance(data, bool):
            return data
        if isinstance(data, int | float):
            return data != 0
        if isinstance(data, str):
            if data == "":
                return False
            try:
                return parse_bool(data)
            except NumError as exc:
                self.errors.append(f"cannot parse '{path}' as bool: {exc}")
                return _MISSING
        return self._unconvertible("bool", data, path)

    def integer(self, data: Any, path: str) -> Any:
        if isinstance(data, bool):
            return 1 if data else 0
        if isinstance(data, int):
            return data
        if isinstance(data, float):
            return int(data)
        if isinstance(data, str):
            if data == "":
                return 0
            try:
                return parse_int(data)
            except NumError as exc:
                self.errors.append(f"cannot parse '{path}' as int: {exc}")
                return _MISSING
        return self._unconvertible("int", data, path)


_MISSING: Any = object()


def _zero(tp: Any) -> Any:
    """Go's zero value of a slice element: mapstructure leaves a ``null`` element as the
    element type's zero (``[null]`` under ``Expose.Paths`` is one empty path), and an element
    whose decoding failed is already an error of its own."""
    origin = get_origin(tp)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if isinstance(tp, type) and issubclass(tp, EntryModel):
        return {}
    return {str: "", bool: False, int: 0, float: 0.0}.get(tp)


def _match_key(field_name: str, keys: list[str]) -> str | None:
    """mapstructure's lookup: the exact name first, then the first case-folded match."""
    if field_name in keys:
        return field_name
    folded = field_name.lower()
    for key in sorted(keys):
        if key.lower() == folded:
            return key
    return None


def _translate_aliases(cls: type[EntryModel], data: dict[str, Any]) -> dict[str, Any]:
    """lib/decode's HookTranslateKeys: an alias becomes its field, unless the field is there."""
    if not cls.aliases:
        return data
    out = dict(data)
    for key in list(data):
        field = cls.aliases.get(key.lower())
        if field is None:
            continue
        info = cls.model_fields[field]
        canonical = info.alias or consul_alias(field)
        if key == canonical:
            continue
        value = out.pop(key)
        if canonical not in out:
            out[canonical] = value
    return out


def _unwrap_single(data: Any) -> Any:
    """Consul's HookWeakDecodeFromSlice: HCL blocks decode as one-item lists."""
    if isinstance(data, list):
        if len(data) == 1:
            return data[0]
        if not data:
            return None
    return data


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type[EntryModel]) -> dict[str, Any]:
    cached = _HINTS.get(cls)
    if cached is None:
        cached = typing.get_type_hints(cls)
        _HINTS[cls] = cached
    return cached


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, dict):
        return "map"
    return "invalid"


def _go_type(value: Any) -> str:
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return _go_kind(value)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
