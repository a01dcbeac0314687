"""The peering wire codec: every message kind crosses whole, and what it cannot carry fails loudly.

Messages are generated from their own dataclass fields, so a field added to a message is
generated here too and must survive the round trip; an object the codec does not know (even a
subclass of a message that adds a field) must raise instead of losing the field.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consul_sim.jsonenc import encode_json
from consul_sim.models.catalog import HealthCheck, Node, NodeService
from consul_sim.models.peering import Remote
from consul_sim.peering.replication import (
    Ack,
    ExportedServiceListPayload,
    ReplicationResponse,
    StreamMessage,
    TrustBundlePayload,
)
from consul_sim.peering.wire import (
    MESSAGE_TYPES,
    RESOURCE_TYPES,
    WireError,
    decode_message,
    encode_message,
)

text = st.text(max_size=8)

# The catalog and peering models have their own (Consul) codec; a few fields of each suffice.
MODELS: dict[type, st.SearchStrategy[Any]] = {
    Remote: st.builds(Remote, partition=text, datacenter=text),
    Node: st.builds(Node, node=text, address=text, meta=st.dictionaries(text, text, max_size=2)),
    NodeService: st.builds(
        NodeService, id=text, service=text, tags=st.lists(text, max_size=2), port=st.integers(0, 9)
    ),
    HealthCheck: st.builds(
        HealthCheck, node=text, check_id=text, status=st.sampled_from(["passing", "critical"])
    ),
}


def values(hint: Any) -> st.SearchStrategy[Any]:
    """Any value of a message field's type, from the type hint alone."""
    if hint in MODELS:
        return MODELS[hint]
    if dataclasses.is_dataclass(hint):
        return instances(typing.cast(type, hint))
    if hint is str:
        return text
    if hint is int:
        return st.integers(-(2**63), 2**63 - 1)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple and args[1:] == (...,):
        return st.lists(values(args[0]), max_size=3).map(tuple)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([st.none() if a is type(None) else values(a) for a in args])
    raise AssertionError(f"no strategy for a message field of type {hint!r}: add one here")


def instances(cls: type) -> st.SearchStrategy[Any]:
    """``cls`` with every field (defaulted ones too) drawn from its type."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: values(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


def over_the_wire(message: object) -> object:
    """What the other process decodes: encoded, serialised to bytes, parsed, decoded."""
    return decode_message(json.loads(encode_json(encode_message(message))))


@pytest.mark.parametrize("kind", MESSAGE_TYPES, ids=lambda kind: kind.__name__)
@given(data=st.data())
def test_every_field_of_every_message_kind_crosses_the_wire(
    kind: type, data: st.DataObject
) -> None:
    message = data.draw(instances(kind))
    decoded = over_the_wire(message)
    assert type(decoded) is kind
    if isinstance(message, StreamMessage):
        # A stream message's secret stays home: the post is signed with it instead.
        assert "StreamSecret" not in json.dumps(encode_message(message))
        message = dataclasses.replace(message, stream_secret="")
    assert decoded == message


@pytest.mark.parametrize("kind", RESOURCE_TYPES, ids=lambda kind: kind.__name__)
@given(data=st.data())
def test_every_resource_kind_crosses_inside_a_replication_response(
    kind: type, data: st.DataObject
) -> None:
    message = ReplicationResponse("p", 1, nonce="00000001", resource=data.draw(instances(kind)))
    decoded = over_the_wire(message)
    assert isinstance(decoded, ReplicationResponse)
    assert type(decoded.resource) is kind
    assert decoded == message


def test_the_wire_keeps_consul_names_and_a_type_on_every_object() -> None:
    message = ReplicationResponse(
        "p", 7, resource=TrustBundlePayload("td", ("pem",), exported_partition="default")
    )
    assert encode_message(message) == {
        "Type": "ReplicationResponse",
        "PeeringID": "p",
        "StreamID": 7,
        "Nonce": "",
        "ResourceURL": "",
        "ResourceID": "",
        "Operation": "UPSERT",
        "Resource": {
            "Type": "PeeringTrustBundle",
            "TrustDomain": "td",
            "RootPEMs": ["pem"],
            "ExportedPartition": "default",
        },
    }


def test_every_stream_message_class_has_a_wire_type() -> None:
    """A new kind of stream traffic cannot be sent to another process until the codec knows it."""
    assert set(StreamMessage.__subclasses__()) <= set(MESSAGE_TYPES)


# -- failing loudly -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class AckWithColor(Ack):
    color: str = "red"


@dataclasses.dataclass(frozen=True)
class ListWithColor(ExportedServiceListPayload):
    color: str = "red"


def test_a_message_subclass_with_a_field_the_codec_does_not_know_is_refused() -> None:
    with pytest.raises(WireError, match="^no wire encoding for AckWithColor$"):
        encode_message(AckWithColor("p", 1, nonce="1"))


def test_a_resource_subclass_with_a_field_the_codec_does_not_know_is_refused() -> None:
    message = ReplicationResponse("p", 1, resource=ListWithColor(("web",)))
    with pytest.raises(WireError, match="no wire encoding for ListWithColor"):
        encode_message(message)


def test_something_that_is_not_a_message_is_refused() -> None:
    with pytest.raises(WireError, match="^no wire encoding for object$"):
        encode_message(object())


ACK = {"Type": "Ack", "PeeringID": "p", "StreamID": 1, "Nonce": "1"}
LIST = {"Type": "ExportedServiceList", "Services": ["web"]}
RESPONSE = {
    "Type": "ReplicationResponse",
    "PeeringID": "p",
    "StreamID": 1,
    "Nonce": "1",
    "ResourceURL": "",
    "ResourceID": "",
    "Operation": "UPSERT",
    "Resource": LIST,
}
TAGS = "ExportedService, ExportedServiceList, PeeringTrustBundle, PeeringServerAddresses"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([ACK], "Message must be a JSON object"),
        ({**ACK, "Type": "Pickle"}, "unknown message type 'Pickle'"),
        ({**ACK, "Type": 3}, "unknown message type 3"),
        ({k: v for k, v in ACK.items() if k != "Type"}, "unknown message type None"),
        ({**ACK, "Color": "red"}, "Ack.Color: Unexpected keyword argument"),
        ({k: v for k, v in ACK.items() if k != "PeeringID"}, "Ack.PeeringID: Field required"),
        ({**ACK, "PeeringID": 5}, "Ack.PeeringID: Input should be a valid string"),
        (
            {**ACK, "StreamID": "one"},
            "Ack.StreamID: Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {**RESPONSE, "Resource": {**LIST, "Type": "Pickle"}},
            f"ReplicationResponse: Resource: Type is not one of {TAGS}",
        ),
        (
            {**RESPONSE, "Resource": {"Services": ["web"]}},
            f"ReplicationResponse: Resource: Type is not one of {TAGS}",
        ),
        (
            {**RESPONSE, "Resource": {**LIST, "Color": "red"}},
            "ReplicationResponse: Resource.ExportedServiceList.Color: Unexpected keyword argument",
        ),
        (
            {**RESPONSE, "Resource": {**LIST, "Services": [1]}},
            "ReplicationResponse: Resource.ExportedServiceList.Services.0: "
            "Input should be a valid string",
        ),
    ],
)
def test_a_body_that_is_not_a_message_is_refused_with_what_is_wrong(
    body: object, problem: str
) -> None:
    with pytest.raises(WireError) as refused:
        decode_message(body)
    assert str(refused.value) == problem


def test_decoded_messages_are_the_originals_not_a_wire_copy() -> None:
    decoded = decode_message(RESPONSE)
    assert decoded == ReplicationResponse(
        "p", 1, nonce="1", resource=ExportedServiceListPayload(("web",))
    )
    assert decode_message(ACK) == Ack("p", 1, nonce="1")
