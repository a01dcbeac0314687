"""Peering messages as JSON, for clusters that live in different processes.

In one process the network hands message objects from one cluster to another. Across processes
(``consul-sim serve`` twice) the same objects travel as JSON over ``POST /_sim/peerstream``.
The codec is written out type by type, never pickled: a body from another process is data to
check, not code to run, and a message class that gains a field fails loudly here instead of
being dropped in silence. Keys are Consul-style PascalCase; every object carries ``Type``.

Errors cross too: a refusal raised by the receiving cluster (a used token, a wrong stream secret)
must reach the sender as the same exception, so the dialer words it exactly as in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consul_sim.errors import ConsulError, RPCError
from consul_sim.models.catalog import HealthCheck, Node, NodeService
from consul_sim.models.peering import Remote
from consul_sim.peering.replication import (
    Ack,
    ExportedInstance,
    ExportedServiceListPayload,
    ExportedServicePayload,
    Heartbeat,
    Nack,
    ReplicationResponse,
    Resource,
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


# -- reading fields -----------------------------------------------------------------------------
def _object(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a JSON object")
    return value


def _str(data: JSON, key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise WireError(f"{key} must be a string")
    return value


def _int(data: JSON, key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"{key} must be an integer")
    return value


def _strs(data: JSON, key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WireError(f"{key} must be a list of strings")
    return tuple(value)


def _list(data: JSON, key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise WireError(f"{key} must be a list")
    return value


def _model(model: Any, value: Any, what: str) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(_object(value, what))
    except ValidationError as exc:
        raise WireError(f"{what}: {exc.errors()[0]['msg']}") from None


def _dump(model: Node | NodeService | HealthCheck | Remote) -> JSON:
    dumped: JSON = model.model_dump(mode="json", by_alias=True)
    return dumped


# -- resources ----------------------------------------------------------------------------------
def encode_resource(resource: Resource) -> JSON:
    if isinstance(resource, ExportedServicePayload):
        return {
            "Type": "ExportedService",
            "Nodes": [
                {
                    "Node": _dump(i.node),
                    "Service": _dump(i.service),
                    "Checks": [_dump(c) for c in i.checks],
                }
                for i in resource.nodes
            ],
        }
    if isinstance(resource, ExportedServiceListPayload):
        return {"Type": "ExportedServiceList", "Services": list(resource.services)}
    return {
        "Type": "PeeringTrustBundle",
        "TrustDomain": resource.trust_domain,
        "RootPEMs": list(resource.root_pems),
        "ExportedPartition": resource.exported_partition,
    }


def decode_resource(value: Any) -> Resource:
    data = _object(value, "Resource")
    kind = data.get("Type")
    if kind == "ExportedService":
        nodes = []
        for item in _list(data, "Nodes"):
            entry = _object(item, "Nodes[]")
            nodes.append(
                ExportedInstance(
                    node=_model(Node, entry.get("Node"), "Node"),
                    service=_model(NodeService, entry.get("Service"), "Service"),
                    checks=tuple(_model(HealthCheck, c, "Check") for c in _list(entry, "Checks")),
                )
            )
        return ExportedServicePayload(tuple(nodes))
    if kind == "ExportedServiceList":
        return ExportedServiceListPayload(_strs(data, "Services"))
    if kind == "PeeringTrustBundle":
        return TrustBundlePayload(
            trust_domain=_str(data, "TrustDomain"),
            root_pems=_strs(data, "RootPEMs"),
            exported_partition=_str(data, "ExportedPartition"),
        )
    raise WireError(f"unknown resource type {kind!r}")


# -- messages -----------------------------------------------------------------------------------
def _stream(kind: str, peering_id: str, stream_id: int, **fields: Any) -> JSON:
    return {"Type": kind, "PeeringID": peering_id, "StreamID": stream_id, **fields}


def encode_message(message: object) -> JSON | None:
    """A message or a receiver's answer as JSON; ``None`` (no answer) stays ``null``."""
    if message is None:
        return None
    if isinstance(message, ExchangeSecret):
        return {
            "Type": "ExchangeSecret",
            "PeerID": message.peer_id,
            "EstablishmentSecret": message.establishment_secret,
            "EnvelopeDigest": message.envelope_digest,
            "Dialer": message.dialer,
        }
    if isinstance(message, ExchangeSecretResponse):
        return {"Type": "ExchangeSecretResponse", "StreamSecret": message.stream_secret}
    if isinstance(message, OpenStream):
        return {
            "Type": "OpenStream",
            "PeerID": message.peer_id,
            "StreamSecret": message.stream_secret,
            "Remote": _dump(message.remote),
            "DialerPeeringID": message.dialer_peering_id,
            "StreamID": message.stream_id,
        }
    if isinstance(message, StreamOpened):
        return {"Type": "StreamOpened"}
    if isinstance(message, Terminated):
        return {"Type": "Terminated", "PeeringID": message.peering_id}
    if isinstance(message, ReplicationResponse):
        return _stream(
            "ReplicationResponse",
            message.peering_id,
            message.stream_id,
            Nonce=message.nonce,
            ResourceURL=message.resource_url,
            ResourceID=message.resource_id,
            Operation=message.operation,
            Resource=None if message.resource is None else encode_resource(message.resource),
        )
    if isinstance(message, Nack):
        return _stream(
            "Nack", message.peering_id, message.stream_id, Nonce=message.nonce, Error=message.error
        )
    if isinstance(message, Ack):
        return _stream("Ack", message.peering_id, message.stream_id, Nonce=message.nonce)
    if isinstance(message, Heartbeat):
        return _stream("Heartbeat", message.peering_id, message.stream_id)
    raise WireError(f"no wire encoding for {type(message).__name__}")


def _decode_replication_response(data: JSON) -> ReplicationResponse:
    resource = data.get("Resource")
    return ReplicationResponse(
        _str(data, "PeeringID"),
        _int(data, "StreamID"),
        nonce=_str(data, "Nonce"),
        resource_url=_str(data, "ResourceURL"),
        resource_id=_str(data, "ResourceID"),
        operation=_str(data, "Operation"),
        resource=None if resource is None else decode_resource(resource),
    )


_DECODERS: dict[str, Callable[[JSON], object]] = {
    "ExchangeSecret": lambda d: ExchangeSecret(
        peer_id=_str(d, "PeerID"),
        establishment_secret=_str(d, "EstablishmentSecret"),
        envelope_digest=_str(d, "EnvelopeDigest"),
        dialer=_str(d, "Dialer"),
    ),
    "ExchangeSecretResponse": lambda d: ExchangeSecretResponse(_str(d, "StreamSecret")),
    "OpenStream": lambda d: OpenStream(
        peer_id=_str(d, "PeerID"),
        stream_secret=_str(d, "StreamSecret"),
        remote=_model(Remote, d.get("Remote") or {}, "Remote"),
        dialer_peering_id=_str(d, "DialerPeeringID"),
        stream_id=_int(d, "StreamID"),
    ),
    "StreamOpened": lambda d: StreamOpened(),
    "Terminated": lambda d: Terminated(_str(d, "PeeringID")),
    "ReplicationResponse": _decode_replication_response,
    "Ack": lambda d: Ack(_str(d, "PeeringID"), _int(d, "StreamID"), nonce=_str(d, "Nonce")),
    "Nack": lambda d: Nack(
        _str(d, "PeeringID"), _int(d, "StreamID"), nonce=_str(d, "Nonce"), error=_str(d, "Error")
    ),
    "Heartbeat": lambda d: Heartbeat(_str(d, "PeeringID"), _int(d, "StreamID")),
}


def decode_message(value: Any) -> object:
    """The inverse of :func:`encode_message`; raises :class:`WireError` on anything else."""
    if value is None:
        return None
    data = _object(value, "Message")
    kind = data.get("Type")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise WireError(f"unknown message type {kind!r}")
    return decoder(data)


# -- errors -------------------------------------------------------------------------------------
def encode_error(exc: ConsulError) -> JSON:
    if isinstance(exc, SecretRefused):
        return {"Type": "SecretRefused", "Reason": exc.reason, "Desc": exc.desc}
    if isinstance(exc, RPCError):
        return {"Type": "RPCError", "Code": exc.code, "Desc": exc.desc}
    return {"Type": "ConsulError", "Message": exc.message, "Status": exc.status_code}


def decode_error(value: Any) -> ConsulError:
    """The receiver's exception, rebuilt so the sender handles it as if raised in-process."""
    data = _object(value, "Error")
    kind = data.get("Type")
    if kind == "SecretRefused":
        desc = _str(data, "Desc")
        detail = desc.removeprefix(INVALID_SECRET).removeprefix(": ")
        return SecretRefused(_str(data, "Reason"), detail)
    if kind == "RPCError":
        return RPCError(_str(data, "Code"), _str(data, "Desc"))
    if kind == "ConsulError":
        return ConsulError(_str(data, "Message"), _int(data, "Status") or None)
    raise WireError(f"unknown error type {kind!r}")
