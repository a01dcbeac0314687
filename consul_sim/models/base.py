"""The model base: Consul's PascalCase JSON names, and decoding the way Go's encoding/json does.

Consul decodes request bodies with Go's ``encoding/json``: keys match fields case-insensitively,
unknown keys are ignored (strict endpoints refuse them), ``null`` leaves a field at its zero value,
and a wrong type fails with ``json: cannot unmarshal <kind> into Go struct field <Path> of type
<type>``. pydantic's own validation speaks differently, so bodies go through :func:`decode_body`
first and reach pydantic only once they already have Go's shape.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from consul_sim.models.gojson import DecodeError as DecodeError
from consul_sim.models.gojson import GoNumber, beyond_float64, check_stored_depth, numbers_in
from consul_sim.models.gojson import parse_json as parse_json

# Words Consul spells in capitals inside field names; pydantic's to_pascal would say Id, Ca, Ttl.
_ACRONYMS = {
    "id": "ID",
    "ids": "IDs",
    "ca": "CA",
    "ttl": "TTL",
    "http": "HTTP",
    "tcp": "TCP",
    "udp": "UDP",
    "grpc": "GRPC",
    "tls": "TLS",
    "dns": "DNS",
    "acl": "ACL",
    "url": "URL",
    "ip": "IP",
    "h2ping": "H2PING",
    "pems": "Pems",
}


def consul_alias(name: str) -> str:
    """``peer_ca_pems`` -> ``PeerCAPems``, ``service_id`` -> ``ServiceID``."""
    return "".join(_ACRONYMS.get(part, part[:1].upper() + part[1:]) for part in name.split("_"))


class ConsulModel(BaseModel):
    """A Consul object; JSON names are Consul's, Python names are snake_case."""

    model_config = ConfigDict(
        alias_generator=consul_alias,
        populate_by_name=True,
        extra="ignore",
        validate_assignment=False,
        # Each model's validator is built on its first use, not when the module is imported:
        # most worlds touch a handful of Consul's objects (``import consul_sim`` budget).
        defer_build=True,
    )
    # The Go type name used in decode errors ("Go struct field RegisterRequest.Node").
    go_name: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


M = TypeVar("M", bound="ConsulModel")


class GoDuration:
    """Marker for fields Consul decodes as time.Duration: a Go duration string or nanoseconds."""


Duration = Annotated[str, GoDuration]


class GoUint64:
    """Marker for fields Go declares ``uint64`` (Raft indexes, KV flags): a negative or too large
    number is refused where a plain ``int`` field (Go's ``int``, 64 bits on amd64) takes any
    value in the int64 range."""


Uint64 = Annotated[int, GoUint64]

# Go's integer types, by the name its decode errors use: the range strconv.ParseInt/ParseUint
# accept for them (``encoding/json/decode.go`` literalStore, then ``OverflowInt``).
_INT_RANGES = {"int": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1)}


def json_kind(value: Any) -> str:
    """The JSON kind Go's decode errors name (``cannot unmarshal string into ...``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _go_type(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        if GoDuration in meta:
            return "time.Duration"
        if GoUint64 in meta:
            return "uint64"
        return _go_type(base)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return "*" + _go_type(args[0]) if len(args) == 1 else "interface {}"
    if origin is list:
        return "[]" + _go_type(get_args(tp)[0])
    if origin is dict:
        k, v = get_args(tp)
        return f"map[{_go_type(k)}]{_go_type(v)}"
    if tp is str:
        return "string"
    if tp is int:
        return "int"
    if tp is float:
        return "float64"
    if tp is bool:
        return "bool"
    if isinstance(tp, type) and issubclass(tp, ConsulModel):
        return "structs." + (tp.go_name or tp.__name__)
    return "interface {}"


class _Decoder:
    def __init__(self, root: str, strict: bool) -> None:
        self.root = root
        self.strict = strict

    def fail(self, value: Any, path: list[str], tp: Any) -> DecodeError:
        where = ".".join([self.root, *path]) if path else self.root
        return DecodeError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where} "
            f"of type {_go_type(tp)}"
        )

    def model(self, cls: type[ConsulModel], data: Any, path: list[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            if path:
                raise self.fail(data, path, cls)
            raise DecodeError(
                f"json: cannot unmarshal {json_kind(data)} into Go value of type "
                f"structs.{cls.go_name or cls.__name__}"
            )
        lookup = _field_lookup(cls)
        out: dict[str, Any] = {}
        for key, value in data.items():
            field = lookup.get(key.lower()) or lookup.get(key.replace("_", "").lower())
            if field is None:
                if self.strict:
                    raise DecodeError(f'json: unknown field "{key}"')
                continue
            name, tp = field
            if value is None:
                continue
            out[name] = self.value(tp, value, [*path, consul_alias(name)])
        return out

    def value(self, tp: Any, value: Any, path: list[str]) -> Any:
        origin = get_origin(tp)
        if origin is Annotated:
            base, *meta = get_args(tp)
            if GoDuration in meta:
                return self.duration(value, path, tp)
            if GoUint64 in meta:
                return self.integer(value, path, "uint64")
            return self.value(base, value, path)
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if value is None:
                return None
            if len(args) == 1:
                return self.value(args[0], value, path)
            return value
        if tp is Any or tp is object:
            self.interface(value, path)
            return value
        if origin is list:
            if not isinstance(value, list):
                raise self.fail(value, path, tp)
            (item,) = get_args(tp)
            return [self.value(item, v, path) for v in value]
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(value, path, tp)
            _, item = get_args(tp)
            return {k: self.value(item, v, path) for k, v in value.items() if v is not None}
        if isinstance(tp, type) and issubclass(tp, ConsulModel):
            return self.model(tp, value, path)
        if tp is bool:
            if not isinstance(value, bool):
                raise self.fail(value, path, tp)
            return value
        if tp is int:
            return self.integer(value, path, "int")
        if tp is float:
            return self.float64(value, path)
        if tp is str:
            if not isinstance(value, str):
                raise self.fail(value, path, tp)
            return value
        return value

    def number_error(self, literal: str, path: list[str], go_type: str) -> DecodeError:
        """``literalStore``'s refusal of a number its field cannot hold: the literal as sent."""
        where = ".".join([self.root, *path])
        return DecodeError(
            f"json: cannot unmarshal number {literal} into Go struct field {where} "
            f"of type {go_type}"
        )

    def integer(self, value: Any, path: list[str], go_type: str) -> int:
        """Go reads an integer field with strconv.ParseInt/ParseUint of the literal: a fraction,
        an exponent or a value out of the type's range is refused with the literal."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(value, path, Uint64 if go_type == "uint64" else int)
        if isinstance(value, GoNumber):
            raise self.number_error(value.literal, path, go_type)
        if isinstance(value, float):
            # Not from parse_json (already-parsed data, e.g. a CLI file): whole floats pass.
            if not value.is_integer():
                raise self.number_error(_go_number(value), path, go_type)
            value = int(value)
        low, high = _INT_RANGES[go_type]
        if not low <= value <= high:
            raise self.number_error(str(value), path, go_type)
        return int(value)

    def float64(self, value: Any, path: list[str]) -> float:
        """strconv.ParseFloat refuses a literal beyond float64's range (it would be ±Inf)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(value, path, float)
        literal = beyond_float64(value)
        if literal is not None:
            raise self.number_error(literal, path, "float64")
        return float(value)

    def interface(self, value: Any, path: list[str]) -> None:
        """An ``interface{}`` value keeps JSON numbers as float64, so Go refuses one beyond
        float64's range there too; and a value nested past what the simulator can store is
        refused (``check_stored_depth``)."""
        check_stored_depth(value)
        for number in numbers_in(value):
            self.float64(number, path)

    def duration(self, value: Any, path: list[str], tp: Any) -> str:
        from consul_sim.durations import DurationError, format_duration, parse_duration

        if isinstance(value, bool):
            raise self.fail(value, path, tp)
        if isinstance(value, int | float):
            # Consul's UnmarshalJSON reads a numeric duration through interface{} (float64).
            return format_duration(self.float64(value, path) / 1e9)
        if isinstance(value, str):
            if value == "":
                return ""
            try:
                return format_duration(parse_duration(value))
            except DurationError as exc:
                raise DecodeError(str(exc)) from None
        raise self.fail(value, path, tp)


def _go_number(v: float) -> str:
    return repr(v).rstrip("0").rstrip(".") if "." in repr(v) else repr(v)


_LOOKUPS: dict[type, dict[str, tuple[str, Any]]] = {}


def _field_lookup(cls: type[ConsulModel]) -> dict[str, tuple[str, Any]]:
    cached = _LOOKUPS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls, include_extras=True)
    table: dict[str, tuple[str, Any]] = {}
    for name, info in cls.model_fields.items():
        tp = hints.get(name, info.annotation)
        alias = info.alias or consul_alias(name)
        table[alias.lower()] = (name, tp)
        table.setdefault(name.replace("_", "").lower(), (name, tp))
    _LOOKUPS[cls] = table
    return table


def decode_body(cls: type[M], data: Any, *, root: str | None = None, strict: bool = False) -> M:
    """Decode already-parsed JSON into ``cls`` with Go's rules; raises DecodeError."""
    decoder = _Decoder(root if root is not None else (cls.go_name or cls.__name__), strict)
    fields = decoder.model(cls, data, [])
    return cls.model_validate(fields)


def omit_empty(d: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Drop the ``omitempty`` keys whose value is Go's zero value."""
    return {k: v for k, v in d.items() if not (k in keys and v in ("", 0, None, {}, [], False))}
