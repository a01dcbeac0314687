"""/v1/peering over HTTP on two virtual-clock clusters, asserting Consul's exact answers.

Numbers in test docstrings refer to the conformance list in the peering reference (§7).
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from consul_sim.clock import rfc3339
from consul_sim.errors import ConsulError, NotFound, RPCError
from consul_sim.models.peering_state import PeeringState
from consul_sim.peering.tokens import SecretRefused, sign_secret
from consul_sim.world import Cluster, World

INVALID_SECRET = (
    "rpc error: code = PermissionDenied desc = a new peering token must be generated: "
    "invalid peering establishment secret"
)
USED = f"{INVALID_SECRET}: it was already used to establish this peering"
SUPERSEDED = f"{INVALID_SECRET}: a newer token was generated for this peering"
DELETED = f"{INVALID_SECRET}: its peering was deleted"
NAME_RULE = (
    "a valid peering name must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=7)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def acceptor(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def dialer(world: World, acceptor: Cluster) -> Cluster:
    return world.add_cluster("cluster-02")


def generate(cluster: Cluster, peer: str, **body: Any) -> str:
    r = cluster.client.post("/v1/peering/token", json={"PeerName": peer, **body})
    assert r.status_code == 200, r.text
    token: str = r.json()["PeeringToken"]
    return token


def establish(cluster: Cluster, peer: str, token: str) -> httpx.Response:
    return cluster.client.post(
        "/v1/peering/establish", json={"PeerName": peer, "PeeringToken": token}
    )


def read(cluster: Cluster, name: str) -> dict[str, Any]:
    r = cluster.client.get(f"/v1/peering/{name}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def decode(token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(token))
    return data


def encode(envelope: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def peered(acceptor: Cluster, dialer: Cluster) -> None:
    r = establish(dialer, acceptor.name, generate(acceptor, dialer.name))
    assert (r.status_code, r.text) == (200, "{}")


# -- token endpoint ------------------------------------------------------------------------------
def test_token_without_body_is_eof(acceptor: Cluster) -> None:
    """1"""
    r = acceptor.client.post("/v1/peering/token")
    assert (r.status_code, r.text) == (400, "Body decoding failed: EOF")


def test_token_with_non_json_body_is_a_decoding_failure(acceptor: Cluster) -> None:
    """2"""
    r = acceptor.client.post("/v1/peering/token", content=b"abc")
    assert r.status_code == 400
    assert r.text == "Body decoding failed: invalid character 'a' looking for beginning of value"


def test_token_requires_peer_name(acceptor: Cluster) -> None:
    """3"""
    r = acceptor.client.post("/v1/peering/token", json={})
    assert r.status_code == 400
    assert r.text == "PeerName is required in the payload when generating a new peering token."


def test_token_rejects_unknown_fields(acceptor: Cluster) -> None:
    """4"""
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "p", "Datacenter": "dc1"})
    assert (r.status_code, r.text) == (
        400,
        'Body decoding failed: json: unknown field "Datacenter"',
    )


def test_token_body_keys_match_case_insensitively(acceptor: Cluster) -> None:
    r = acceptor.client.post("/v1/peering/token", json={"peername": "peer-a"})
    assert r.status_code == 200
    assert read(acceptor, "peer-a")["Name"] == "peer-a"


def test_token_decodes_to_consuls_envelope(acceptor: Cluster) -> None:
    """5, 39 (the envelope part)"""
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "peer-a"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert list(r.json()) == ["PeeringToken"]
    envelope = decode(r.json()["PeeringToken"])
    assert list(envelope) == [
        "CA",
        "ManualServerAddresses",
        "ServerAddresses",
        "ServerName",
        "PeerID",
        "EstablishmentSecret",
        "Remote",
    ]
    assert envelope["CA"] == acceptor.ca.root_pems()
    assert all(pem.endswith("-----END CERTIFICATE-----\n") for pem in envelope["CA"])
    assert envelope["ManualServerAddresses"] is None
    assert envelope["ServerAddresses"] == [acceptor.peering_address]
    assert envelope["ServerName"] == f"server.cluster-01.peering.{acceptor.trust_domain}"
    assert envelope["ServerName"].startswith("server.cluster-01.peering.")
    assert envelope["Remote"] == {
        "Partition": "default",
        "Datacenter": "cluster-01",
        "Locality": None,
    }


def test_token_carries_server_external_addresses_as_manual(acceptor: Cluster) -> None:
    token = generate(acceptor, "peer-a", ServerExternalAddresses=["10.0.0.9:8503"])
    assert decode(token)["ManualServerAddresses"] == ["10.0.0.9:8503"]


def test_new_acceptor_reads_pending_with_its_id_as_peer_id(acceptor: Cluster) -> None:
    """6, 40"""
    token = generate(acceptor, "peer-a", Meta={"env": "production"})
    body = read(acceptor, "peer-a")
    assert body == {
        "ID": decode(token)["PeerID"],
        "Name": "peer-a",
        "Meta": {"env": "production"},
        "State": "PENDING",
        "StreamStatus": {
            "ImportedServices": None,
            "ExportedServices": None,
            "LastHeartbeat": None,
            "LastReceive": None,
            "LastSend": None,
        },
        "CreateIndex": body["CreateIndex"],
        "ModifyIndex": body["CreateIndex"],
        "Remote": {"Partition": "", "Datacenter": ""},
        "status": "pending",
        "connected": False,
    }


def test_regenerating_keeps_id_and_state_and_bumps_modify_index(acceptor: Cluster) -> None:
    """7, and Meta is kept only from the creating call"""
    first = decode(generate(acceptor, "peer-a", Meta={"k": "v1"}))
    before = read(acceptor, "peer-a")
    second = decode(generate(acceptor, "peer-a", Meta={"k": "v2"}))
    after = read(acceptor, "peer-a")
    assert second["PeerID"] == first["PeerID"]
    assert second["EstablishmentSecret"] != first["EstablishmentSecret"]
    assert after["ID"] == before["ID"]
    assert after["State"] == before["State"] == "PENDING"
    assert after["Meta"] == {"k": "v1"}
    assert after["CreateIndex"] == before["CreateIndex"]
    assert after["ModifyIndex"] > before["ModifyIndex"]


def test_superseded_token_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    """8"""
    first = generate(acceptor, "cluster-02")
    second = generate(acceptor, "cluster-02")
    r = establish(dialer, "cluster-01", first)
    assert (r.status_code, r.text) == (500, SUPERSEDED)
    assert establish(dialer, "cluster-01", second).status_code == 200


def test_token_is_single_use(acceptor: Cluster, dialer: Cluster) -> None:
    """9"""
    token = generate(acceptor, "cluster-02")
    first = establish(dialer, "cluster-01", token)
    assert (first.status_code, first.text, first.headers["content-type"]) == (
        200,
        "{}",
        "application/json",
    )
    second = establish(dialer, "cluster-01", token)
    assert (second.status_code, second.text) == (500, USED)


# -- establish endpoint --------------------------------------------------------------------------
def test_establish_requires_peering_token(dialer: Cluster) -> None:
    """10"""
    r = dialer.client.post("/v1/peering/establish", json={"PeerName": "x"})
    assert r.status_code == 400
    assert r.text == "PeeringToken is required in the payload when establishing a peering."


def test_establish_requires_peer_name(dialer: Cluster) -> None:
    """11"""
    r = dialer.client.post("/v1/peering/establish", json={})
    assert r.status_code == 400
    assert r.text == "PeerName is required in the payload when establishing a peering."


def test_establish_without_body_is_eof(dialer: Cluster) -> None:
    r = dialer.client.post("/v1/peering/establish")
    assert (r.status_code, r.text) == (400, "Body decoding failed: EOF")


def test_establish_rejects_token_that_is_not_base64(dialer: Cluster) -> None:
    """12"""
    r = establish(dialer, "peer-a", "+++/+++")
    assert r.status_code == 500
    assert r.text == (
        "rpc error: code = Unknown desc = failed to decode token: "
        "illegal base64 data at input byte 4"
    )


def test_establish_rejects_token_with_no_addresses(dialer: Cluster) -> None:
    """13"""
    r = establish(dialer, "peer-a", "e30K")
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = peering token server addresses value is empty",
    )


def test_establish_rejects_base64_that_is_not_json(dialer: Cluster) -> None:
    r = establish(dialer, "peer-a", base64.b64encode(b'{"CA":').decode())
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = unexpected end of JSON input",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ServerAddresses": ["nohost"]}, "nohost is not a valid peering server address"),
        ({"ServerAddresses": ["10.0.0.1:0"]}, "10.0.0.1:0 is not a valid peering server address"),
        ({"PeerID": ""}, "peering token peer ID value is empty"),
    ],
)
def test_establish_validates_token_fields(
    acceptor: Cluster, dialer: Cluster, change: dict[str, Any], message: str
) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope.update(change)
    r = establish(dialer, "cluster-01", encode(envelope))
    assert (r.status_code, r.text) == (500, f"rpc error: code = Unknown desc = {message}")


def test_establish_rejects_token_from_the_same_cluster(acceptor: Cluster) -> None:
    """14"""
    token = generate(acceptor, "cluster-01")
    before = read(acceptor, "cluster-01")
    r = establish(acceptor, "other", token)
    assert r.status_code == 500
    assert r.text == (
        "rpc error: code = Unknown desc = cannot create a peering within the same cluster "
        f'"server.cluster-01.peering.{acceptor.trust_domain}". Refer to the `exported-services` '
        "documentation if you want to export between partitions without peering"
    )
    assert read(acceptor, "cluster-01") == before
    assert acceptor.client.get("/v1/peering/other").status_code == 404


def test_establish_under_an_acceptor_name_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    """15"""
    generate(dialer, "peer-b")
    r = establish(dialer, "peer-b", generate(acceptor, "cluster-02"))
    assert (r.status_code, r.text) == (
        500,
        'rpc error: code = Unknown desc = cannot create peering with name: "peer-b"; '
        "there is an existing peering expecting to be dialed",
    )


def test_token_under_a_dialer_name_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    """16"""
    assert establish(dialer, "peer-c", generate(acceptor, "cluster-02")).status_code == 200
    r = dialer.client.post("/v1/peering/token", json={"PeerName": "peer-c"})
    assert (r.status_code, r.text) == (
        500,
        'rpc error: code = Unknown desc = cannot create peering with name: "peer-c"; '
        "there is already an established peering",
    )


@pytest.mark.parametrize("name", ["Peer_A", "--AA--", "UPPER", "a" * 64])
def test_invalid_peer_names_are_refused(acceptor: Cluster, dialer: Cluster, name: str) -> None:
    """17"""
    expected = f"rpc error: code = Unknown desc = {name} is not a valid peer name: {NAME_RULE}"
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": name})
    assert (r.status_code, r.text) == (500, expected)
    r = establish(dialer, name, generate(acceptor, "cluster-02"))
    assert (r.status_code, r.text) == (500, expected)


def test_too_much_meta_is_refused(acceptor: Cluster) -> None:
    """18"""
    meta = {f"k{i}": "v" for i in range(65)}
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "p", "Meta": meta})
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = meta tags failed validation: "
        "Node metadata cannot contain more than 64 key/value pairs",
    )


def test_reserved_meta_prefix_is_refused(dialer: Cluster, acceptor: Cluster) -> None:
    r = dialer.client.post(
        "/v1/peering/establish",
        json={
            "PeerName": "cluster-01",
            "PeeringToken": generate(acceptor, "cluster-02"),
            "Meta": {"consul-x": "1"},
        },
    )
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = meta tags failed validation: Couldn't load metadata "
        "pair ('consul-x', '1'): Key prefix 'consul-' is reserved for internal use",
    )


def test_body_partition_other_than_default_is_enterprise_only(acceptor: Cluster) -> None:
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "p", "Partition": "ap1"})
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = InvalidArgument desc = Partitions are a Consul Enterprise feature",
    )
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "p", "Partition": "default"})
    assert r.status_code == 200, r.text
    assert read(acceptor, "p")["State"] == "PENDING"


# -- states after establishment ------------------------------------------------------------------
def test_dialer_shows_establishing_until_the_stream_connects(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """19: the stream is opened after establish returns; a held link keeps it from opening"""
    envelope = decode(generate(acceptor, "cluster-02"))
    world.hold("cluster-01", "cluster-02")
    r = establish(dialer, "cluster-01", encode(envelope))
    assert (r.status_code, r.text) == (200, "{}")
    body = read(dialer, "cluster-01")
    assert body == {
        "ID": body["ID"],
        "Name": "cluster-01",
        "State": "ESTABLISHING",
        "PeerID": envelope["PeerID"],
        "PeerCAPems": envelope["CA"],
        "PeerServerName": envelope["ServerName"],
        "PeerServerAddresses": envelope["ServerAddresses"],
        "StreamStatus": {
            "ImportedServices": None,
            "ExportedServices": None,
            "LastHeartbeat": None,
            "LastReceive": None,
            "LastSend": None,
        },
        "CreateIndex": body["CreateIndex"],
        "ModifyIndex": body["ModifyIndex"],
        "Remote": {"Partition": "default", "Datacenter": "cluster-01"},
        "status": "establishing",
        "connected": False,
    }
    assert read(acceptor, "cluster-02")["State"] == "PENDING"
    world.settle()
    assert read(dialer, "cluster-01")["State"] == "ESTABLISHING", "held traffic stays held"
    world.advance(30)
    assert read(dialer, "cluster-01")["State"] == "ESTABLISHING", "a hung dial is no error"
    world.release("cluster-01", "cluster-02")
    world.settle()
    after = read(dialer, "cluster-01")
    assert (after["State"], after["connected"]) == ("ACTIVE", True)
    assert after["ModifyIndex"] == body["ModifyIndex"]
    assert read(acceptor, "cluster-02")["State"] == "ACTIVE"


def test_dialer_shows_active_with_the_tokens_details(acceptor: Cluster, dialer: Cluster) -> None:
    """19 (on an open link the stream connects at once: ESTABLISHING stored, ACTIVE shown)"""
    envelope = decode(generate(acceptor, "cluster-02"))
    assert establish(dialer, "cluster-01", encode(envelope)).status_code == 200
    body = read(dialer, "cluster-01")
    assert body["State"] == "ACTIVE"
    assert (body["status"], body["connected"]) == ("active", True)
    assert body["PeerID"] == envelope["PeerID"]
    assert body["PeerServerName"] == envelope["ServerName"]
    assert body["PeerServerAddresses"] == envelope["ServerAddresses"]
    assert body["Remote"] == {"Partition": "default", "Datacenter": "cluster-01"}
    assert body["PeerCAPems"] == envelope["CA"] == acceptor.ca.root_pems()
    assert body["StreamStatus"] == {
        "ImportedServices": None,
        "ExportedServices": None,
        "LastHeartbeat": None,
        "LastReceive": "0001-01-01T00:00:00Z",
        "LastSend": "0001-01-01T00:00:00Z",
    }
    stored = dialer.peering.table.get("cluster-01")
    assert stored is not None and stored.state == PeeringState.ESTABLISHING


def test_acceptor_shows_active_and_the_dialers_datacenter(
    acceptor: Cluster, dialer: Cluster
) -> None:
    """20"""
    generate(acceptor, "cluster-02")
    before = read(acceptor, "cluster-02")
    peered_token = generate(acceptor, "cluster-02")
    assert establish(dialer, "cluster-01", peered_token).status_code == 200
    body = read(acceptor, "cluster-02")
    assert body["State"] == "ACTIVE"
    assert body["Remote"] == {"Partition": "", "Datacenter": "cluster-02"}
    assert "PeerID" not in body and "PeerServerAddresses" not in body
    assert body["ID"] == before["ID"]
    stored = acceptor.peering.table.get("cluster-02")
    assert stored is not None and stored.state == PeeringState.PENDING


def test_failing_stream_shows_failing_without_moving_modify_index(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """21 (driven through the tracker, as replication will drive it)"""
    peered(acceptor, dialer)
    before = read(dialer, "cluster-01")
    stream = dialer.peering.tracker.get(before["ID"])
    assert stream is not None
    stream.disconnect(world.clock.now(), "heartbeat timeout")
    after = read(dialer, "cluster-01")
    assert (after["State"], after["status"], after["connected"]) == ("FAILING", "failing", False)
    assert after["ModifyIndex"] == before["ModifyIndex"]


def test_partition_past_the_heartbeat_timeout_shows_failing_on_both_sides(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """21, driven by real traffic: heartbeats stop crossing, each end times out after 2 min"""
    peered(acceptor, dialer)
    heartbeat = rfc3339(world.clock.now() + 15)
    world.advance(20)  # one heartbeat each way
    mine, theirs = read(dialer, "cluster-01"), read(acceptor, "cluster-02")
    assert mine["State"] == theirs["State"] == "ACTIVE"
    assert mine["StreamStatus"]["LastHeartbeat"] == heartbeat
    world.partition("cluster-01", "cluster-02")
    world.advance(15 + 120 - 20 - 1)
    assert read(dialer, "cluster-01")["State"] == "ACTIVE", "not yet two minutes of silence"
    world.advance(1)
    for cluster, name, before in ((dialer, "cluster-01", mine), (acceptor, "cluster-02", theirs)):
        r = cluster.client.get(f"/v1/peering/{name}")
        assert r.status_code == 200
        after = r.json()
        assert (after["State"], after["status"], after["connected"]) == (
            "FAILING",
            "failing",
            False,
        )
        assert after["ModifyIndex"] == before["ModifyIndex"]
        assert after["StreamStatus"]["LastHeartbeat"] == heartbeat
        assert r.headers["X-Consul-Index"] == str(cluster.peering.table.index())
    world.heal()
    world.advance(64)
    assert read(dialer, "cluster-01")["State"] == read(acceptor, "cluster-02")["State"] == "ACTIVE"


def test_reestablishing_with_a_fresh_token_keeps_the_id(acceptor: Cluster, dialer: Cluster) -> None:
    peered(acceptor, dialer)
    before = read(dialer, "cluster-01")
    r = dialer.client.post(
        "/v1/peering/establish",
        json={
            "PeerName": "cluster-01",
            "PeeringToken": generate(acceptor, "cluster-02"),
            "Meta": {"env": "prod"},
        },
    )
    assert (r.status_code, r.text) == (200, "{}")
    after = read(dialer, "cluster-01")
    assert after["ID"] == before["ID"]
    assert after["Meta"] == {"env": "prod"}
    assert after["State"] == "ACTIVE"
    assert after["ModifyIndex"] > before["ModifyIndex"]


def state_of(cluster: Cluster, name: str) -> str:
    state: str = read(cluster, name)["State"]
    return state


def test_repointing_a_connected_dialer_keeps_its_stream_until_it_ends(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """Consul's leader leaves a connected stream alone when establish changes the PeerID
    (leader_peering.go: updated data is used only once the stream disconnects)."""
    peered(acceptor, dialer)
    old_id = read(acceptor, "cluster-02")["ID"]
    token = generate(acceptor, "alias")
    new_id = decode(token)["PeerID"]
    r = establish(dialer, "cluster-01", token)
    assert (r.status_code, r.text) == (200, "{}")
    world.settle()
    mine = read(dialer, "cluster-01")
    assert (mine["State"], mine["PeerID"]) == ("ACTIVE", new_id)
    assert state_of(acceptor, "cluster-02") == "ACTIVE", "the old stream is still up"
    assert state_of(acceptor, "alias") == "PENDING"
    # The old stream ends (two minutes without heartbeats); the dialer redials with the new
    # PeerID and stream secret, and the old acceptor record is left FAILING.
    world.partition("cluster-01", "cluster-02")
    world.advance(150)
    assert state_of(dialer, "cluster-01") == state_of(acceptor, "cluster-02") == "FAILING"
    world.heal()
    world.advance(64)
    assert state_of(dialer, "cluster-01") == "ACTIVE"
    assert state_of(acceptor, "alias") == "ACTIVE"
    old = read(acceptor, "cluster-02")
    assert (old["ID"], old["State"], old["connected"]) == (old_id, "FAILING", False)
    assert dialer.peering.tracker.get(mine["ID"]) is not None
    assert acceptor.peering.tracker.get(new_id) is not None


def test_repointing_a_disconnected_dialer_dials_the_new_acceptor(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    peered(acceptor, dialer)
    world.partition("cluster-01", "cluster-02")
    world.advance(121)
    assert state_of(dialer, "cluster-01") == "FAILING"
    world.heal()
    token = generate(acceptor, "alias")
    assert establish(dialer, "cluster-01", token).status_code == 200
    world.settle()
    mine = read(dialer, "cluster-01")
    assert (mine["State"], mine["PeerID"]) == ("ACTIVE", decode(token)["PeerID"])
    assert state_of(acceptor, "alias") == "ACTIVE"
    assert state_of(acceptor, "cluster-02") == "FAILING"


def test_failed_reestablish_keeps_the_stored_state_and_the_stream(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """The first write leaves State undefined, so a refused exchange cannot strand a connected
    peering: it stays ESTABLISHING in Raft and ACTIVE on its stream."""
    peered(acceptor, dialer)
    before = read(dialer, "cluster-01")
    used = generate(acceptor, "cluster-02")
    generate(acceptor, "cluster-02")
    r = establish(dialer, "cluster-01", used)
    assert (r.status_code, r.text) == (500, SUPERSEDED)
    after = read(dialer, "cluster-01")
    assert (after["State"], after["connected"]) == ("ACTIVE", True)
    assert after["ID"] == before["ID"] and after["PeerID"] == before["PeerID"]
    assert after["ModifyIndex"] > before["ModifyIndex"]
    stored = dialer.peering.table.get("cluster-01")
    assert stored is not None and stored.state == PeeringState.ESTABLISHING
    world.advance(20)
    assert state_of(dialer, "cluster-01") == state_of(acceptor, "cluster-02") == "ACTIVE"


def test_reestablish_while_connected_exchanges_through_the_stored_addresses(
    acceptor: Cluster, dialer: Cluster
) -> None:
    """With a connected stream Consul keeps the stored PeerServerAddresses over the token's,
    and the secret exchange dials those."""
    peered(acceptor, dialer)
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["ServerAddresses"] = ["127.0.0.1:9999"]  # never dialed: the stream is up
    tampered = encode(envelope)
    r = establish(dialer, "cluster-01", tampered)
    # The acceptor sees the edit through the signed digest, not through a dial failure.
    assert r.status_code == 500
    assert r.text.startswith(INVALID_SECRET), r.text
    assert read(dialer, "cluster-01")["PeerServerAddresses"] == [acceptor.peering_address]


def test_failed_exchange_leaves_a_pending_dialer_record(acceptor: Cluster, dialer: Cluster) -> None:
    token = generate(acceptor, "cluster-02")
    generate(acceptor, "cluster-02")
    assert establish(dialer, "cluster-01", token).status_code == 500
    body = read(dialer, "cluster-01")
    assert body["State"] == "PENDING"
    assert body["PeerServerAddresses"] == [acceptor.peering_address]


def test_unreachable_acceptor_lists_each_address(acceptor: Cluster, dialer: Cluster) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["ServerAddresses"] = ["127.0.0.1:9999"]
    r = establish(dialer, "cluster-01", encode(envelope))
    assert r.status_code == 500
    assert r.text == (
        "rpc error: code = Unknown desc = 1 error occurred:\n"
        '\t* failed to exchange peering secret through address "127.0.0.1:9999": '
        'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while '
        'dialing: dial tcp 127.0.0.1:9999: connect: connection refused"\n\n'
    )


# -- read, list, delete --------------------------------------------------------------------------
def test_read_of_unknown_peering_is_404(acceptor: Cluster) -> None:
    """22"""
    r = acceptor.client.get("/v1/peering/baz")
    assert (r.status_code, r.text) == (404, 'Peering not found for "baz"')


def test_read_lower_cases_the_name(acceptor: Cluster) -> None:
    generate(acceptor, "foo")
    assert read(acceptor, "FOO")["Name"] == "foo"


def test_delete_of_unknown_peering_is_200_and_empty(acceptor: Cluster) -> None:
    """23"""
    r = acceptor.client.delete("/v1/peering/baz")
    assert (r.status_code, r.content) == (200, b"")
    assert "content-type" not in r.headers


def test_delete_marks_deleting_then_removes(acceptor: Cluster, world: World) -> None:
    """24"""
    generate(acceptor, "foo", Meta={"a": "b"})
    before = read(acceptor, "foo")
    r = acceptor.client.delete("/v1/peering/foo")
    assert (r.status_code, r.content) == (200, b"")
    body = read(acceptor, "foo")
    assert body["State"] == "DELETING"
    assert body["DeletedAt"] == "2026-01-01T00:00:00Z"
    assert "Meta" not in body
    assert body["ID"] == before["ID"]
    assert body["CreateIndex"] == before["CreateIndex"]
    assert body["ModifyIndex"] > before["ModifyIndex"]
    world.advance(1)
    r = acceptor.client.get("/v1/peering/foo")
    assert (r.status_code, r.text) == (404, 'Peering not found for "foo"')


def test_writes_to_a_deleting_peering_are_refused(acceptor: Cluster, dialer: Cluster) -> None:
    """25"""
    generate(acceptor, "foo")
    acceptor.client.delete("/v1/peering/foo")
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "foo"})
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = failed to write peering: "
        "cannot write to peering that is marked for deletion",
    )
    assert establish(dialer, "foo", generate(acceptor, "cluster-02")).status_code == 200
    dialer.client.delete("/v1/peering/foo")
    r = establish(dialer, "foo", generate(acceptor, "cluster-02"))
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = failed to write peering: "
        "cannot write to peering that is marked for deletion",
    )
    r = acceptor.client.delete("/v1/peering/foo")
    assert (r.status_code, r.content) == (200, b"")


def test_acceptor_delete_terminates_the_dialer(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """26"""
    peered(acceptor, dialer)
    assert acceptor.client.delete("/v1/peering/cluster-02").status_code == 200
    body = read(dialer, "cluster-01")
    assert (body["State"], body["status"], body["connected"]) == ("TERMINATED", "terminated", False)
    world.advance(60)
    assert [p["Name"] for p in dialer.client.get("/v1/peerings").json()] == ["cluster-01"]
    assert acceptor.client.get("/v1/peering/cluster-02").status_code == 404
    dialer.client.delete("/v1/peering/cluster-01")
    world.advance(1)
    assert dialer.client.get("/v1/peering/cluster-01").status_code == 404


def test_dialer_delete_terminates_the_acceptor(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """26, the mirror case"""
    peered(acceptor, dialer)
    dialer.client.delete("/v1/peering/cluster-01")
    assert read(acceptor, "cluster-02")["State"] == "TERMINATED"
    world.advance(1)
    assert read(acceptor, "cluster-02")["State"] == "TERMINATED"


def test_list_is_empty_array(acceptor: Cluster) -> None:
    """27"""
    r = acceptor.client.get("/v1/peerings")
    assert (r.status_code, r.text) == (200, "[]")
    assert r.headers["X-Consul-Index"] == "1"


def test_list_is_ordered_by_name(acceptor: Cluster) -> None:
    """28"""
    generate(acceptor, "foo")
    generate(acceptor, "bar")
    r = acceptor.client.get("/v1/peerings")
    assert [p["Name"] for p in r.json()] == ["bar", "foo"]


def test_wrong_method_is_405_with_allow(acceptor: Cluster) -> None:
    """29"""
    r = acceptor.client.put("/v1/peering/foo")
    assert (r.status_code, r.text) == (405, "method PUT not allowed")
    assert r.headers["Allow"] == "OPTIONS,GET,DELETE"
    r = acceptor.client.get("/v1/peering/token")
    assert (r.status_code, r.headers["Allow"]) == (405, "OPTIONS,POST")
    r = acceptor.client.options("/v1/peering/foo")
    assert (r.status_code, r.content, r.headers["Allow"]) == (200, b"", "OPTIONS,GET,DELETE")


def test_empty_name_is_400(acceptor: Cluster) -> None:
    """30"""
    for method in ("GET", "DELETE"):
        r = acceptor.client.request(method, "/v1/peering/")
        assert (r.status_code, r.text) == (400, "Must specify a name to fetch.")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/peering/token", {"PeerName": "p"}),
        ("POST", "/v1/peering/establish", {"PeerName": "p", "PeeringToken": "e30K"}),
        ("GET", "/v1/peering/foo", None),
        ("DELETE", "/v1/peering/foo", None),
        ("GET", "/v1/peerings", None),
    ],
)
def test_partition_is_enterprise_only(
    acceptor: Cluster, method: str, path: str, body: dict[str, str] | None
) -> None:
    """31"""
    r = acceptor.client.request(method, path, params={"partition": "default"}, json=body)
    assert (r.status_code, r.text) == (
        400,
        'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature',
    )
    r = acceptor.client.request(method, path, headers={"X-Consul-Partition": "default"}, json=body)
    assert (r.status_code, r.text) == (
        400,
        'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature',
    )


def test_read_sets_index_headers_and_pretty(acceptor: Cluster) -> None:
    generate(acceptor, "foo")
    r = acceptor.client.get("/v1/peering/foo?pretty")
    assert r.headers["X-Consul-Index"] == str(read(acceptor, "foo")["ModifyIndex"])
    assert r.headers["X-Consul-KnownLeader"] == "true"
    assert r.text.startswith('{\n    "ID": ')
    assert r.text.endswith("}\n")


def test_blocking_read_wakes_on_a_new_token(acceptor: Cluster) -> None:
    generate(acceptor, "foo")
    index = int(acceptor.client.get("/v1/peering/foo").headers["X-Consul-Index"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(acceptor.client.get, f"/v1/peering/foo?index={index}&wait=5m")
        with pytest.raises(concurrent.futures.TimeoutError):
            waiting.result(timeout=0.2)
        generate(acceptor, "foo")
        r = waiting.result(timeout=5)
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) > index


def test_disabled_peering_is_failed_precondition(acceptor: Cluster) -> None:
    acceptor.peering.enabled = False
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": "p"})
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = FailedPrecondition desc = peering must be enabled to use this endpoint",
    )


# -- token security ------------------------------------------------------------------------------
def refused(
    acceptor: Cluster, dialer: Cluster, token: str, expected: str, peer: str = "cluster-02"
) -> None:
    """Establishing with ``token`` is refused with ``expected``; the acceptor is untouched."""
    before = acceptor.client.get(f"/v1/peering/{peer}")
    r = establish(dialer, "cluster-01", token)
    assert (r.status_code, r.text) == (500, expected)
    after = acceptor.client.get(f"/v1/peering/{peer}")
    assert (after.status_code, after.text) == (before.status_code, before.text)


def accepted(world: World, acceptor: Cluster, dialer: Cluster, token: str) -> None:
    """Establishing with ``token`` answers ``{}`` and both ends go ACTIVE once settled."""
    r = establish(dialer, "cluster-01", token)
    assert (r.status_code, r.text) == (200, "{}")
    world.settle()
    assert (state_of(acceptor, "cluster-02"), state_of(dialer, "cluster-01")) == (
        "ACTIVE",
        "ACTIVE",
    )


def test_edited_server_name_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["ServerName"] = "server.evil.peering.example.consul"
    refused(
        acceptor,
        dialer,
        encode(envelope),
        f"{INVALID_SECRET}: the token's server addresses, server name or CA were changed "
        "after it was generated",
    )


def test_added_manual_address_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["ManualServerAddresses"] = [acceptor.peering_address]
    refused(
        acceptor,
        dialer,
        encode(envelope),
        f"{INVALID_SECRET}: the token's server addresses, server name or CA were changed "
        "after it was generated",
    )


def test_edited_peer_id_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["PeerID"] = "00000000-0000-4000-8000-000000000000"
    refused(
        acceptor,
        dialer,
        encode(envelope),
        f"{INVALID_SECRET}: the token's PeerID was changed after it was generated",
    )


def test_forged_signature_is_refused(acceptor: Cluster, dialer: Cluster, world: World) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    genuine = envelope["EstablishmentSecret"]
    header, payload, _ = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    envelope["EstablishmentSecret"] = sign_secret(
        b"k" * 64,
        peer_name=claims["aud"],
        peer_id=claims["sub"],
        jti=claims["jti"],
        issued_at=claims["iat"],
        expires_at=None,
        digest=claims["digest"],
    )
    refused(acceptor, dialer, encode(envelope), f"{INVALID_SECRET}: its signature does not verify")


def test_consul_style_uuid_secret_is_refused(acceptor: Cluster, dialer: Cluster) -> None:
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["EstablishmentSecret"] = "5f0e7a8c-0000-4000-8000-000000000000"
    refused(
        acceptor,
        dialer,
        encode(envelope),
        f"{INVALID_SECRET}: it is not a token this cluster issued",
    )


def test_replayed_token_is_refused_and_acceptor_unchanged(
    acceptor: Cluster, dialer: Cluster
) -> None:
    token = generate(acceptor, "cluster-02")
    r = establish(dialer, "cluster-01", token)
    assert (r.status_code, r.text) == (200, "{}")
    refused(acceptor, dialer, token, USED)


def test_superseded_token_leaves_acceptor_unchanged(acceptor: Cluster, dialer: Cluster) -> None:
    token = generate(acceptor, "cluster-02")
    generate(acceptor, "cluster-02")
    refused(acceptor, dialer, token, SUPERSEDED)


def test_token_after_its_peering_was_deleted_is_refused(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    token = generate(acceptor, "cluster-02")
    acceptor.client.delete("/v1/peering/cluster-02")
    refused(acceptor, dialer, token, DELETED)
    world.advance(1)
    refused(acceptor, dialer, token, DELETED)
    # A new peering under the same name has a new ID; the old token stays dead.
    generate(acceptor, "cluster-02")
    refused(acceptor, dialer, token, DELETED)


def test_expired_token_is_refused_on_the_simulation_clock(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    acceptor.peering.token_ttl = 60
    token = generate(acceptor, "cluster-02")
    world.advance(61)
    refused(
        acceptor,
        dialer,
        token,
        f"{INVALID_SECRET}: the peering token expired at 2026-01-01T00:01:00Z",
    )
    fresh = generate(acceptor, "cluster-02")
    world.advance(59)
    accepted(world, acceptor, dialer, fresh)


def test_tokens_never_expire_by_default(acceptor: Cluster, dialer: Cluster, world: World) -> None:
    token = generate(acceptor, "cluster-02")
    world.advance(365 * 24 * 3600)
    accepted(world, acceptor, dialer, token)


def test_strict_peer_names_refuse_a_token_for_another_peer_name(
    acceptor: Cluster, dialer: Cluster, world: World
) -> None:
    """The seed page's "exact name" rule, kept as an option (Consul does not check it)."""
    world.set_strict_peer_names(True)
    token = generate(acceptor, "cluster-03")
    refused(
        acceptor,
        dialer,
        token,
        f'{INVALID_SECRET}: the token was generated for peer "cluster-03", '
        'but cluster "cluster-02" presented it',
        peer="cluster-03",
    )


def test_a_token_may_be_established_under_an_alias_as_in_consul(
    acceptor: Cluster, dialer: Cluster
) -> None:
    """Consul's ExchangeSecret compares only the secret: the names are local labels."""
    token = generate(acceptor, "west")
    assert establish(dialer, "east", token).status_code == 200
    assert read(acceptor, "west")["State"] == "ACTIVE"
    assert read(dialer, "east")["State"] == "ACTIVE"


def test_token_of_another_cluster_cannot_be_replayed_against_a_third(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    third = world.add_cluster("cluster-03")
    envelope = decode(generate(acceptor, "cluster-02"))
    envelope["ServerAddresses"] = [third.peering_address]
    r = establish(dialer, "cluster-01", encode(envelope))
    assert r.status_code == 500
    assert r.text.startswith(INVALID_SECRET)
    assert third.client.get("/v1/peerings").text == "[]"


# -- Python API ----------------------------------------------------------------------------------
def test_python_api_round_trip(acceptor: Cluster, dialer: Cluster, world: World) -> None:
    token = acceptor.peering.generate_token(peer="cluster-02", meta={"env": "production"})
    dialer.peering.establish(peer="cluster-01", token=token)
    mine = acceptor.peering.read("cluster-02")
    theirs = dialer.peering.read("cluster-01")
    assert mine["State"] == theirs["State"] == "ACTIVE"
    assert theirs["PeerID"] == mine["ID"]
    assert [p["Name"] for p in acceptor.peering.list()] == ["cluster-02"]
    assert read(acceptor, "cluster-02") == mine
    acceptor.peering.delete("cluster-02")
    assert acceptor.peering.read("cluster-02")["State"] == "DELETING"
    world.advance(1)
    with pytest.raises(NotFound) as caught:
        acceptor.peering.read("cluster-02")
    assert str(caught.value) == 'Peering not found for "cluster-02"'
    assert dialer.peering.read("cluster-01")["State"] == "TERMINATED"


def test_python_api_raises_consul_errors(acceptor: Cluster, dialer: Cluster) -> None:
    with pytest.raises(RPCError) as caught:
        acceptor.peering.generate_token(peer="Bad_Name")
    assert caught.value.code == "Unknown"
    assert caught.value.status_code == 500
    with pytest.raises(ConsulError):
        dialer.peering.establish(peer="cluster-01", token="e30K")


@pytest.mark.parametrize("reason", ["used", "superseded", "deleted"])
def test_python_api_tells_apart_the_refusals_consul_words_alike(
    acceptor: Cluster, dialer: Cluster, reason: str
) -> None:
    token = acceptor.peering.generate_token(peer="cluster-02")
    if reason == "used":
        dialer.peering.establish(peer="cluster-01", token=token)
    elif reason == "superseded":
        acceptor.peering.generate_token(peer="cluster-02")
    else:
        acceptor.peering.delete("cluster-02")
    with pytest.raises(SecretRefused) as caught:
        dialer.peering.establish(peer="cluster-01", token=token)
    assert caught.value.reason == reason
    assert str(caught.value) == {"used": USED, "superseded": SUPERSEDED, "deleted": DELETED}[reason]


def test_exchange_goes_through_the_network_journal(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(acceptor, dialer)
    kinds = [(e.source, e.destination, e.kind, e.outcome) for e in world.network.journal]
    assert kinds == [
        (dialer.peering_address, acceptor.peering_address, "ExchangeSecret", "ok"),
        (dialer.peering_address, acceptor.peering_address, "OpenStream", "ok"),
    ]
