"""Peering messages as JSON, for clusters that live in different processes.

In one process the network hands message objects from one cluster to another. Across processes
(``consul-sim serve`` twice) the same objects travel as JSON over ``POST /_sim/peerstream``.
Keys are Consul-style PascalCase and every object carries ``Type``.

The codec is one pydantic ``TypeAdapter`` over a union of the message dataclasses themselves,
discriminated on ``Type`` (a ``ReplicationResponse``'s resource is a second such union, nested):
the fields on the wire are read from each dataclass, never listed by hand, so a field added to a
message crosses without a change here. What the codec does not know fails loudly instead of
vanishing: an unknown ``Type``, a key no message has, a missing field, a value of the wrong type,
and on the sending side an object (even a subclass of a message) that has no ``Type`` of its own.
Nothing is pickled: a body from another process is data to check, not code to run. Values are
checked in pydantic's lax mode, as the catalog models inside always were (``"3"`` is an int).

Errors cross too: a refusal raised by the receiving cluster (a used token, a wrong stream secret)
must reach the sender as the same exception, so the dialer words it exactly as in-process.
Exceptions are not data classes, so each kind that crosses has a small model of its own.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
)
from pydantic_core import ErrorDetails, PydanticCustomError, PydanticSerializationError

from consul_sim.errors import ConsulError, RPCError
from consul_sim.models.base import consul_alias
from consul_sim.peering.replication import (
    Ack,
    ExportedServiceListPayload,
    ExportedServicePayload,
    Heartbeat,
    Nack,
    ReplicationResponse,
    ServerAddressesPayload,
    StreamMessage,
    TrustBundlePayload,
)
from consul_sim.peering.service import (
    ExchangeSecret,
    ExchangeSecretResponse,
    OpenStream,
    StreamOpened,
    Terminated,
)
from consul_sim.peering.tokens import INVALID_SECRET, SecretRefused

JSON = dict[str, Any]


class WireError(ValueError):
    """A body that is not a message this simulator sends; ``str()`` says what is wrong."""


MESSAGE_TYPES: dict[type, str] = {
    ExchangeSecret: "ExchangeSecret",
    ExchangeSecretResponse: "ExchangeSecretResponse",
    OpenStream: "OpenStream",
    StreamOpened: "StreamOpened",
    Terminated: "Terminated",
    ReplicationResponse: "ReplicationResponse",
    Ack: "Ack",
    Nack: "Nack",
    Heartbeat: "Heartbeat",
}
"""Every class that crosses, exactly (a subclass is not its parent here), and its ``Type``."""

RESOURCE_TYPES: dict[type, str] = {
    ExportedServicePayload: "ExportedService",
    ExportedServiceListPayload: "ExportedServiceList",
    TrustBundlePayload: "PeeringTrustBundle",
    ServerAddressesPayload: "PeeringServerAddresses",
}
"""A ``ReplicationResponse``'s resource, by the name of Consul's message type in its
``ResourceURL`` (``peerstream.ExportedService``, ``peering.PeeringTrustBundle``)."""

_NAMES = {"root_pems": "RootPEMs"}
"""Where the wire spells a field unlike :func:`consul_alias`: Consul's
``pbpeering.PeeringTrustBundle`` says ``RootPEMs`` (its ``Peering`` says ``PeerCAPems``)."""


def _wire_name(field: str) -> str:
    return _NAMES.get(field) or consul_alias(field)


STREAM_SECRET = "StreamSecret"
"""Never written for a stream message: it proves its secret with an HMAC of the post instead
(:mod:`consul_sim.peering.streamauth`); a body that carries one is refused by the receiver."""

_CONFIG = ConfigDict(alias_generator=_wire_name, extra="forbid")
"""For the message dataclasses (the catalog and peering models inside keep their own config)."""


def _problem(error: ErrorDetails, *within: str) -> str:
    """pydantic's first complaint as ``Where.It.Was: what is wrong``."""
    where = ".".join((*within, *(str(part) for part in error["loc"])))
    return f"{where}: {error['msg']}" if where else error["msg"]


# -- the discriminated union --------------------------------------------------------------------
def _type_of(known: dict[type, str]) -> Any:
    """The discriminator: a decoded body's ``Type``, or the ``Type`` of an object's exact class."""

    def discriminate(value: object) -> object:
        if isinstance(value, dict):
            return value.get("Type")
        return known.get(type(value))

    return Discriminator(
        discriminate,
        custom_error_type="wire_type",
        custom_error_message="Type is not one of " + ", ".join(known.values()),
    )


def _without_type(value: object) -> object:
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key != "Type"}
    return value


def _tagged(cls: type, tag: str, *codec: Any) -> Any:
    """``cls`` as one choice of the union: ``Type`` is read off on the way in, written on the way
    out (the dataclasses do not carry it), and any extra ``codec`` annotations apply in between."""
    on_stream = issubclass(cls, StreamMessage)

    def with_type(value: object, handler: SerializerFunctionWrapHandler) -> JSON:
        encoded = handler(value)
        if on_stream:
            encoded.pop(STREAM_SECRET, None)
        return {"Type": tag, **encoded}

    return Annotated[
        cls, *codec, BeforeValidator(_without_type), WrapSerializer(with_type), Tag(tag)
    ]


def _union(known: dict[type, str], overrides: dict[type, tuple[Any, ...]]) -> Any:
    choices = tuple(_tagged(cls, tag, *overrides.get(cls, ())) for cls, tag in known.items())
    return Annotated[Union[choices], _type_of(known)]  # noqa: UP007 (choices is a runtime tuple)


_RESOURCE: TypeAdapter[Any] = TypeAdapter(_union(RESOURCE_TYPES, {}), config=_CONFIG)


def _read_resource(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """``ReplicationResponse.resource`` is typed as a plain union of the payload classes; on the
    wire it is tagged like a message, so it is decoded here before the response is."""
    if isinstance(value, dict) and value.get("Resource") is not None:
        try:
            resource = _RESOURCE.validate_python(value["Resource"])
        except ValidationError as exc:
            problem = _problem(exc.errors()[0], "Resource")
            raise PydanticCustomError("wire_resource", "{problem}", {"problem": problem}) from None
        value = {**value, "Resource": resource}
    return handler(value)


def _write_resource(value: ReplicationResponse, handler: SerializerFunctionWrapHandler) -> JSON:
    encoded: JSON = handler(dataclasses.replace(value, resource=None))
    if value.resource is not None:
        if type(value.resource) not in RESOURCE_TYPES:
            raise WireError(f"no wire encoding for {type(value.resource).__name__}")
        encoded["Resource"] = _RESOURCE.dump_python(
            value.resource, mode="json", by_alias=True, warnings="error"
        )
    return encoded


_MESSAGE: TypeAdapter[Any] = TypeAdapter(
    _union(
        MESSAGE_TYPES,
        {ReplicationResponse: (WrapValidator(_read_resource), WrapSerializer(_write_resource))},
    ),
    config=_CONFIG,
)


def encode_message(message: object) -> JSON | None:
    """A message or a receiver's answer as JSON; ``None`` (no answer) stays ``null``."""
    if message is None:
        return None
    if type(message) not in MESSAGE_TYPES:
        raise WireError(f"no wire encoding for {type(message).__name__}")
    try:
        encoded: JSON = _MESSAGE.dump_python(message, mode="json", by_alias=True, warnings="error")
    except PydanticSerializationError as exc:
        raise WireError(f"no wire encoding for part of {type(message).__name__}: {exc}") from None
    return encoded


def decode_message(value: Any) -> object:
    """The inverse of :func:`encode_message`; raises :class:`WireError` on anything else."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise WireError("Message must be a JSON object")
    kind = value.get("Type")
    if not isinstance(kind, str) or kind not in MESSAGE_TYPES.values():
        raise WireError(f"unknown message type {kind!r}")
    try:
        return _MESSAGE.validate_python(value)
    except ValidationError as exc:
        raise WireError(_problem(exc.errors()[0])) from None


# -- errors -------------------------------------------------------------------------------------
class _WireError(BaseModel):
    model_config = ConfigDict(
        alias_generator=consul_alias, populate_by_name=True, extra="forbid", frozen=True
    )


class _SecretRefused(_WireError):
    kind: Literal["SecretRefused"] = Field("SecretRefused", alias="Type")
    reason: str
    desc: str

    def rebuild(self) -> ConsulError:
        return SecretRefused(self.reason, self.desc.removeprefix(INVALID_SECRET).removeprefix(": "))


class _RPCError(_WireError):
    kind: Literal["RPCError"] = Field("RPCError", alias="Type")
    code: str
    desc: str

    def rebuild(self) -> ConsulError:
        return RPCError(self.code, self.desc)


class _ConsulError(_WireError):
    """Any other refusal, by its sentence and status (its class does not cross)."""

    kind: Literal["ConsulError"] = Field("ConsulError", alias="Type")
    message: str
    status: int

    def rebuild(self) -> ConsulError:
        return ConsulError(self.message, self.status or None)


_ERROR: TypeAdapter[_SecretRefused | _RPCError | _ConsulError] = TypeAdapter(
    Annotated[_SecretRefused | _RPCError | _ConsulError, Field(discriminator="kind")]
)


def encode_error(exc: ConsulError) -> JSON:
    error: _SecretRefused | _RPCError | _ConsulError
    if isinstance(exc, SecretRefused):
        error = _SecretRefused(reason=exc.reason, desc=exc.desc)
    elif isinstance(exc, RPCError):
        error = _RPCError(code=exc.code, desc=exc.desc)
    else:
        error = _ConsulError(message=exc.message, status=exc.status_code)
    encoded: JSON = error.model_dump(mode="json", by_alias=True)
    return encoded


def decode_error(value: Any) -> ConsulError:
    """The receiver's exception, rebuilt so the sender handles it as if raised in-process."""
    if not isinstance(value, dict):
        raise WireError("Error must be a JSON object")
    try:
        return _ERROR.validate_python(value).rebuild()
    except ValidationError as exc:
        problem = exc.errors()[0]
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            raise WireError(f"unknown error type {value.get('Type')!r}") from None
        raise WireError(f"Error: {_problem(problem)}") from None
