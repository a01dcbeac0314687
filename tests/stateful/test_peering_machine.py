"""Any sequence of token / establish / delete calls on two clusters, driven over HTTP.

Hypothesis plays a user who generates tokens on either cluster for any peer name (the other
cluster's exact name, an alias, a name Consul refuses), establishes on either cluster with any
token seen so far under any name, deletes anything, toggles the per-cluster peer-name check and
lets virtual time pass. After every step the world's oracles hold (``world.check_invariants``)
and, over HTTP, both clusters must show only Consul's legal states,
``StreamStatus`` on every record, unique names, indexes that never go backwards, and exactly the
names a shadow model says each side should hold. Every refusal must be one of Consul's own
answers: a plain-text 400 sentence or a 500 ``rpc error: ...``, never a FastAPI JSON error.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from consul_sim.peering.service import DELETION_DELAY
from consul_sim.world import Cluster, World
from tests.budgets import scaled

CLUSTERS = ("cluster-01", "cluster-02")
PEER_NAMES = ("cluster-01", "cluster-02", "alias", "Cluster-02")
"""Each other's exact names, an alias, and a capitalised name Consul refuses to create."""

LEGAL_STATES = frozenset({"PENDING", "ESTABLISHING", "ACTIVE", "FAILING", "DELETING", "TERMINATED"})

KNOWN_400S = frozenset(
    {
        "PeerName is required in the payload when generating a new peering token.",
        "PeerName is required in the payload when establishing a peering.",
        "PeeringToken is required in the payload when establishing a peering.",
        "Must specify a name to fetch.",
    }
)

BAD_TOKENS = (
    "e30K",  # base64 of "{}": no addresses
    "not-base64!",
    base64.b64encode(b"[1, 2").decode(),
)

EPSILON = 1e-6


class Known(Enum):
    PRESENT = "present"
    ABSENT = "absent"
    DELETING = "deleting"
    UNKNOWN = "unknown"
    """A failed establish may or may not have left its record behind (Consul writes the dialer
    record before the secret exchange); the next observation settles it."""


@dataclass
class Expect:
    known: Known = Known.ABSENT
    deleted_at: float = 0.0


@dataclass(frozen=True)
class Issued:
    issuer: str
    peer: str
    token: str

    @property
    def peer_id(self) -> str:
        envelope: dict[str, Any] = json.loads(base64.b64decode(self.token))
        peer_id: str = envelope["PeerID"]
        return peer_id


def other(cluster: str) -> str:
    return CLUSTERS[1 - CLUSTERS.index(cluster)]


def assert_consul_error(r: httpx.Response) -> None:
    """A refusal must read as Consul's: plain text, a known 400 sentence or an rpc error."""
    assert r.status_code in (400, 500), (r.status_code, r.text)
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers
    assert not r.text.startswith("{"), r.text
    if r.status_code == 400:
        assert r.text in KNOWN_400S or r.text.startswith("Body decoding failed: "), r.text
    else:
        assert r.text.startswith("rpc error: code = "), r.text


class PeeringMachine(RuleBasedStateMachine):
    tokens = Bundle("tokens")

    def __init__(self) -> None:
        super().__init__()
        self.world = World(clock="virtual", seed=0)
        self.clusters: dict[str, Cluster] = {n: self.world.add_cluster(n) for n in CLUSTERS}
        self.expect: dict[str, dict[str, Expect]] = {n: {} for n in CLUSTERS}
        self.last_index: dict[str, int] = dict.fromkeys(CLUSTERS, 0)
        self.modify_index: dict[tuple[str, str], int] = {}
        self.create_index: dict[tuple[str, str], int] = {}
        self.repointed: set[tuple[str, str]] = set()
        """Dialer names an establish was sent for while their stream was up: Consul keeps
        that stream (and its acceptor) until it ends, whatever PeerID was written."""

    def teardown(self) -> None:
        self.world.close()

    # -- helpers ----------------------------------------------------------------------------------
    def _expect(self, cluster: str, name: str) -> Expect:
        return self.expect[cluster].setdefault(name.lower(), Expect())

    def _now(self) -> float:
        return self.world.clock.now()

    def _list(self, cluster: str) -> tuple[int, list[dict[str, Any]]]:
        r = self.clusters[cluster].client.get("/v1/peerings")
        assert r.status_code == 200, r.text
        body: list[dict[str, Any]] = r.json()
        return int(r.headers["X-Consul-Index"]), body

    def _read(self, cluster: str, name: str) -> dict[str, Any] | None:
        r = self.clusters[cluster].client.get(f"/v1/peering/{name}")
        if r.status_code == 404:
            assert r.text == f'Peering not found for "{name}"', r.text
            return None
        assert r.status_code == 200, (r.status_code, r.text)
        body: dict[str, Any] = r.json()
        return body

    # -- rules ------------------------------------------------------------------------------------
    @initialize(check01=st.booleans(), check02=st.booleans())
    def peer_name_checks(self, check01: bool, check02: bool) -> None:
        """The per-cluster switch for people who peer under aliases, as Consul allows."""
        self.clusters["cluster-01"].peering.verify_peer_name = check01
        self.clusters["cluster-02"].peering.verify_peer_name = check02

    @rule(target=tokens, issuer=st.sampled_from(CLUSTERS), peer=st.sampled_from(PEER_NAMES))
    def generate_token(self, issuer: str, peer: str) -> Issued | MultipleResults[Issued]:
        r = self.clusters[issuer].client.post("/v1/peering/token", json={"PeerName": peer})
        expect = self._expect(issuer, peer)
        if r.status_code != 200:
            assert_consul_error(r)
            if expect.known is Known.PRESENT and peer == peer.lower():
                # Only a dialer name or one being deleted refuses a token.
                record = self._read(issuer, peer)
                assert record is not None
                assert record.get("PeerServerAddresses") or record["State"] == "DELETING"
            return multiple()
        assert peer == peer.lower(), "Consul refuses to create a name with capitals"
        assert expect.known is not Known.DELETING, "a deleting peering cannot get a token"
        expect.known = Known.PRESENT
        token: str = r.json()["PeeringToken"]
        issued = Issued(issuer, peer, token)
        record = self._read(issuer, peer)
        assert record is not None
        assert record["ID"] == issued.peer_id, "a token's PeerID is the acceptor's peering ID"
        return issued

    @rule(issued=tokens, dialer=st.sampled_from(CLUSTERS), name=st.sampled_from(PEER_NAMES))
    def establish(self, issued: Issued, dialer: str, name: str) -> None:
        self._establish(dialer, name, issued.token, issued)

    @rule(target=tokens, issuer=st.sampled_from(CLUSTERS))
    def generate_token_for_the_other_cluster(self, issuer: str) -> Issued | MultipleResults[Issued]:
        """The page's first step, weighted up so that establishments often succeed."""
        return self.generate_token(issuer, other(issuer))

    @rule(issued=tokens, alias=st.booleans())
    def establish_from_the_other_cluster(self, issued: Issued, alias: bool) -> None:
        """The page's second step: the token's peer dials the issuer by name (or an alias)."""
        name = "alias" if alias else issued.issuer
        self._establish(other(issued.issuer), name, issued.token, issued)

    @rule(
        dialer=st.sampled_from(CLUSTERS),
        name=st.sampled_from(PEER_NAMES),
        token=st.sampled_from(BAD_TOKENS),
    )
    def establish_with_bad_token(self, dialer: str, name: str, token: str) -> None:
        self._establish(dialer, name, token, None)

    def _establish(self, dialer: str, name: str, token: str, issued: Issued | None) -> None:
        expect = self._expect(dialer, name)
        before = self._read(dialer, name)
        if before is not None and before["connected"]:
            self.repointed.add((dialer, name.lower()))
        r = self.clusters[dialer].client.post(
            "/v1/peering/establish", json={"PeerName": name, "PeeringToken": token}
        )
        if r.status_code != 200:
            assert_consul_error(r)
            if expect.known is Known.ABSENT:
                expect.known = Known.UNKNOWN
            return
        assert r.text == "{}", r.text
        assert issued is not None, "a malformed token was accepted"
        assert issued.issuer != dialer, "a cluster peered with itself"
        assert expect.known is not Known.DELETING, "a deleting peering was re-established"
        if self.clusters[issued.issuer].peering.verify_peer_name:
            assert issued.peer == dialer, "a token made for another peer name was accepted"
        expect.known = Known.PRESENT
        record = self._read(dialer, name)
        assert record is not None
        assert record.get("PeerID") == issued.peer_id, record
        assert record["State"] in ("ESTABLISHING", "ACTIVE"), record

    @rule(cluster=st.sampled_from(CLUSTERS), name=st.sampled_from(PEER_NAMES))
    def delete(self, cluster: str, name: str) -> None:
        expect = self._expect(cluster, name)
        before = self._read(cluster, name)
        r = self.clusters[cluster].client.delete(f"/v1/peering/{name}")
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.text == ""
        after = self._read(cluster, name)
        if before is None:
            assert after is None
            expect.known = Known.ABSENT
            return
        assert after is not None
        assert after["State"] == "DELETING", after
        assert "DeletedAt" in after and "PeerID" not in after and "Meta" not in after, after
        assert after["ID"] == before["ID"]
        if expect.known is not Known.DELETING:
            expect.known = Known.DELETING
            expect.deleted_at = self._now()

    @rule(seconds=st.sampled_from([0.05, DELETION_DELAY / 2, 1.0, 5.0]))
    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)

    @rule(cluster=st.sampled_from(CLUSTERS), name=st.sampled_from(PEER_NAMES))
    def read(self, cluster: str, name: str) -> None:
        record = self._read(cluster, name)
        known = self._expect(cluster, name).known
        if known is Known.PRESENT:
            assert record is not None, f"{name} vanished from {cluster}"
            assert record["State"] != "DELETING"
        elif known is Known.ABSENT:
            assert record is None, record

    @precondition(lambda self: any(self.expect[c] for c in CLUSTERS))
    @rule(cluster=st.sampled_from(CLUSTERS))
    def toggle_peer_name_check(self, cluster: str) -> None:
        service = self.clusters[cluster].peering
        service.verify_peer_name = not service.verify_peer_name

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def oracles_hold(self) -> None:
        """consul_sim.oracles: legal stored states, unique names, indexes that never fall, no
        data under a gone peering; the HTTP-level checks below add what a client sees."""
        self.world.check_invariants()

    @invariant()
    def both_clusters_are_consistent(self) -> None:
        for cluster in CLUSTERS:
            index, records = self._list(cluster)
            assert index >= self.last_index[cluster], "X-Consul-Index went backwards"
            self.last_index[cluster] = index
            names = [p["Name"] for p in records]
            assert len(names) == len({n.lower() for n in names}), names
            assert names == sorted(names), "peerings are listed by name"
            for p in records:
                assert p["State"] in LEGAL_STATES, p
                assert set(p["StreamStatus"]) == {
                    "ImportedServices",
                    "ExportedServices",
                    "LastHeartbeat",
                    "LastReceive",
                    "LastSend",
                }, p
                assert "Remote" in p, p
                assert p["CreateIndex"] <= p["ModifyIndex"] <= index, (p, index)
                key = (cluster, p["ID"])
                assert p["ModifyIndex"] >= self.modify_index.get(key, 0), "ModifyIndex fell"
                assert self.create_index.setdefault(key, p["CreateIndex"]) == p["CreateIndex"]
                self.modify_index[key] = p["ModifyIndex"]
                assert (p["State"] == "DELETING") == ("DeletedAt" in p), p
            self._check_shadow(cluster, {p["Name"].lower(): p for p in records})

    @invariant()
    def a_dialer_shown_active_streams_to_an_active_acceptor(self) -> None:
        """Across clusters, after the network settles: a dialer shown ACTIVE has, at the other
        end of its stream, the acceptor record whose ID is its PeerID, and that record is
        ACTIVE. The one exception is Consul's own: a dialer re-pointed while connected keeps
        its old stream (and acceptor) until that stream ends."""
        self.world.settle()
        shown = {c: self._list(c)[1] for c in CLUSTERS}
        for cluster in CLUSTERS:
            by_id = {p["ID"]: p for p in shown[other(cluster)]}
            for p in shown[cluster]:
                if p["State"] != "ACTIVE" or not p.get("PeerServerAddresses"):
                    continue
                stream = self.clusters[cluster].peering.tracker.get(p["ID"])
                assert stream is not None and stream.connected, p
                acceptor = by_id.get(stream.remote_peering_id)
                assert acceptor is not None, (cluster, p, "streams to no acceptor record")
                assert acceptor["State"] == "ACTIVE", (cluster, p, acceptor)
                if stream.remote_peering_id != p["PeerID"]:
                    assert (cluster, p["Name"].lower()) in self.repointed, (p, acceptor)
                else:
                    assert by_id[p["PeerID"]]["State"] == "ACTIVE"

    def _check_shadow(self, cluster: str, shown: dict[str, dict[str, Any]]) -> None:
        now = self._now()
        for name, expect in self.expect[cluster].items():
            record = shown.get(name)
            if expect.known is Known.DELETING:
                due = expect.deleted_at + DELETION_DELAY
                if now > due + EPSILON:
                    expect.known = Known.ABSENT
                elif now < due - EPSILON:
                    assert record is not None and record["State"] == "DELETING", (name, record)
                    continue
                else:  # the timer is due at this very moment; either answer is right
                    expect.known = Known.ABSENT if record is None else Known.DELETING
                    continue
            if expect.known is Known.UNKNOWN:
                expect.known = Known.ABSENT if record is None else Known.PRESENT
            if expect.known is Known.ABSENT:
                assert record is None, f"{name} should be gone from {cluster}: {record}"
            else:
                assert record is not None, f"{name} should exist on {cluster}"
                assert record["State"] != "DELETING", record
        unexpected = set(shown) - set(self.expect[cluster])
        assert not unexpected, f"{cluster} holds peerings nobody made: {unexpected}"


PeeringMachine.TestCase.settings = scaled(60, stateful_step_count=30)
TestPeeringMachine = PeeringMachine.TestCase
