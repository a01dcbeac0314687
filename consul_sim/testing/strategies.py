"""Hypothesis strategies for consul-sim: ``from consul_sim.testing import strategies as cst``.

Each draws data the way a user hands it to Consul: names Consul accepts, bodies for its HTTP API
(``/v1/catalog/register``, ``/v1/config``), invalid entries paired with the answer Consul gives,
fault schedules for the simulated network, and whole topologies a test can ``build`` into a world.
Everything shrinks toward the small and the plain (two clusters, one service, passing, no faults),
so a failure Hypothesis reports is one a person can read.

Needs Hypothesis (``pip install consul-sim[testing]``); ``import consul_sim`` does not.
Facts: peer names follow ``peering/tokens.py``'s DNS-label rule (Consul's
``validatePeerName``, ``agent/structs/peering.go``); the invalid entries and their texts are the
ones ``tests/api/test_config.py`` checks (Consul's ``config_entry_exports.go``, ``decode``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from consul_sim.testing.helpers import export, peer

if TYPE_CHECKING:
    from consul_sim.world import Cluster, World

STATUSES = ("passing", "warning", "critical")
"""The health states a check can be set to through the catalog."""

_LABEL_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _labels(min_size: int = 1, max_size: int = 20) -> st.SearchStrategy[str]:
    """Lower-case DNS labels: letters, digits and inner hyphens, never a hyphen at an end."""
    inner = st.text(_LABEL_ALPHABET + "-", min_size=0, max_size=max(0, max_size - 2))
    first = st.sampled_from(_LABEL_ALPHABET[:26])
    last = st.sampled_from(_LABEL_ALPHABET)
    one = first.map(str)
    longer = st.tuples(first, inner, last).map("".join)
    strategy = st.one_of(one, longer) if min_size <= 1 else longer
    return strategy.filter(lambda s: min_size <= len(s) <= max_size)


def peer_names() -> st.SearchStrategy[str]:
    """Peer names Consul accepts: a DNS label (``[a-z0-9]``, inner ``-``, at most 63 characters,
    here at most 20), shrinking toward ``a``. Used as cluster names too, so each side can name
    the other by its exact name."""
    return _labels(1, 20)


def service_names() -> st.SearchStrategy[str]:
    """Service names that stay the same through DNS and replication: lower-case labels, never
    ``consul`` (the server's own service, never exported) nor a ``-sidecar-proxy`` name."""
    return _labels(1, 16).filter(lambda s: s != "consul" and not s.endswith("-sidecar-proxy"))


_any_service_name = service_names
"""``registrations`` takes a parameter named after the strategy; this keeps the default in reach."""


def health_statuses() -> st.SearchStrategy[str]:
    """``passing``, ``warning`` or ``critical``, shrinking toward ``passing``."""
    return st.sampled_from(STATUSES)


@st.composite
def _registration(draw: st.DrawFn, names: st.SearchStrategy[str]) -> dict[str, Any]:
    service = draw(names)
    instance = draw(st.integers(1, 3))
    node = f"node-{draw(st.integers(1, 3))}"
    sid = f"{service}-{instance}"
    return {
        "Node": node,
        "Address": f"10.0.0.{instance}",
        "Service": {"ID": sid, "Service": service, "Port": 8000 + instance},
        "Check": {"CheckID": f"check-{sid}", "Status": draw(health_statuses()), "ServiceID": sid},
    }


def registrations(
    service_names: Sequence[str] | st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies for ``PUT /v1/catalog/register``: one instance (``<service>-<n>`` on
    ``node-<m>``) with one service check in a drawn health state. ``service_names`` is a list
    to pick from or a strategy (default: :func:`service_names`)."""
    if service_names is None:
        names: st.SearchStrategy[str] = _any_service_name()
    elif isinstance(service_names, st.SearchStrategy):
        names = service_names
    else:
        names = st.sampled_from(list(service_names))
    return _registration(names)


def exported_services_entries(
    services: Sequence[str], peers: Sequence[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``exported-services`` entries as ``PUT /v1/config`` takes them: a subset of
    ``services`` (``*`` among them when listed), each with one or more distinct consumer
    ``peers``. Shrinks toward one service exported to one peer."""
    if not services or not peers:
        raise ValueError("exported_services_entries needs at least one service and one peer")

    @st.composite
    def draw_entry(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(list(services)), min_size=1, unique=True))
        return {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [
                {
                    "Name": name,
                    "Consumers": [
                        {"Peer": p}
                        for p in draw(
                            st.lists(st.sampled_from(list(peers)), min_size=1, unique=True)
                        )
                    ],
                }
                for name in chosen
            ],
        }

    return draw_entry()


def service_intentions_entries(
    destination: str, sources: Sequence[str], peers: Sequence[str] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid ``service-intentions`` entries for ``destination``: distinct sources (a name of
    ``sources`` or ``*``, local or from one of ``peers``), each ``allow`` or ``deny``."""
    names = st.sampled_from([*sources, "*"])
    where = st.sampled_from(["", *peers])

    @st.composite
    def draw_entry(draw: st.DrawFn) -> dict[str, Any]:
        keys = draw(st.lists(st.tuples(names, where), min_size=1, max_size=4, unique=True))
        out = []
        for name, peer_name in keys:
            source: dict[str, Any] = {
                "Name": name,
                "Action": draw(st.sampled_from(["allow", "deny"])),
            }
            if peer_name:
                source["Peer"] = peer_name
            out.append(source)
        return {"Kind": "service-intentions", "Name": destination, "Sources": out}

    return draw_entry()


@dataclass(frozen=True)
class InvalidEntry:
    """A config entry Consul refuses on ``PUT /v1/config``, and how: status and exact text."""

    body: dict[str, Any]
    status: int
    message: str


_EXPORT: dict[str, Any] = {
    "Kind": "exported-services",
    "Name": "default",
    "Services": [{"Name": "web", "Consumers": [{"Peer": "p1"}]}],
}


def _consumers(*consumers: dict[str, str], name: str = "web") -> dict[str, Any]:
    return {**_EXPORT, "Services": [{"Name": name, "Consumers": list(consumers)}]}


def _decoding(message: str) -> str:
    return f"Request decoding failed: {message}"


INVALID_ENTRIES: tuple[InvalidEntry, ...] = (
    InvalidEntry(
        {"Name": "default"},
        400,
        _decoding("Payload does not contain a kind/Kind key at the top level"),
    ),
    InvalidEntry({"Kind": 123}, 400, _decoding("Kind value in payload is not a string")),
    InvalidEntry(
        {"Kind": "Exported-Services"},
        400,
        _decoding("invalid config entry kind: Exported-Services"),
    ),
    InvalidEntry(
        {**_EXPORT, "Foo": 1}, 400, _decoding('1 error occurred:\n\t* invalid config key "Foo"\n\n')
    ),
    InvalidEntry(
        {"Kind": "mesh", "Name": "mesh"},
        400,
        _decoding('1 error occurred:\n\t* invalid config key "Name"\n\n'),
    ),
    InvalidEntry({**_EXPORT, "Name": "foo"}, 500, 'exported-services Name must be "default"'),
    InvalidEntry(
        _consumers({"Peer": "a"}, name=""), 500, "Services[0]: service name cannot be empty"
    ),
    InvalidEntry(
        {**_EXPORT, "Services": [{"Name": "web"}]},
        500,
        "Services[0]: must have at least one consumer",
    ),
    InvalidEntry(
        _consumers({"Peer": "a"}, {"Peer": "*"}),
        500,
        "Services[0].Consumers[1]: exporting to all peers (wildcard) is not supported",
    ),
    InvalidEntry(
        _consumers({"Peer": "a", "Partition": "ap"}),
        500,
        "Services[0].Consumers[0]: must define at most one of Peer, Partition, or SamenessGroup",
    ),
    InvalidEntry(
        _consumers({"SamenessGroup": "sg"}),
        500,
        "Services[0].Consumers[0]: sameness-groups are an enterprise-only feature",
    ),
)
"""Taken from ``tests/api/test_config.py``, where each is checked against the API."""


def invalid_config_entries() -> st.SearchStrategy[InvalidEntry]:
    """Entries Consul refuses, each with the status and exact plain-text body it answers."""
    return st.sampled_from(INVALID_ENTRIES)


# -- faults ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """One step of a fault schedule. ``kind`` is ``partition``, ``heal``, ``latency``, ``loss``,
    ``crash``, ``restart`` or ``advance``; ``a``/``b`` name clusters; ``value`` is seconds
    (latency, advance) or a probability (loss)."""

    kind: str
    a: str = ""
    b: str = ""
    value: float = 0.0

    def apply(self, world: World) -> None:
        if self.kind == "partition":
            world.partition(self.a, self.b)
        elif self.kind == "heal":
            world.heal(self.a, self.b)
        elif self.kind == "latency":
            world.set_link(self.a, self.b, latency=self.value)
        elif self.kind == "loss":
            world.set_link(self.a, self.b, loss=self.value)
        elif self.kind == "crash":
            world.crash(self.a)
        elif self.kind == "restart":
            world.restart(self.a)
        elif self.kind == "advance":
            world.advance(self.value)
        else:
            raise ValueError(f"unknown fault kind {self.kind!r}")


def faults(clusters: Sequence[str]) -> st.SearchStrategy[Fault]:
    """One fault on ``clusters`` (at least two names)."""
    if len(clusters) < 2:
        raise ValueError("faults need at least two clusters")
    names = st.sampled_from(list(clusters))
    pairs = st.tuples(names, names).filter(lambda p: p[0] != p[1])
    return st.one_of(
        st.floats(0.5, 130.0).map(lambda s: Fault("advance", value=s)),
        pairs.map(lambda p: Fault("partition", *p)),
        pairs.map(lambda p: Fault("heal", *p)),
        st.tuples(pairs, st.sampled_from([0.0, 0.05, 1.0])).map(
            lambda x: Fault("latency", *x[0], value=x[1])
        ),
        st.tuples(pairs, st.sampled_from([0.0, 0.25, 1.0])).map(
            lambda x: Fault("loss", *x[0], value=x[1])
        ),
        names.map(lambda n: Fault("crash", n)),
        names.map(lambda n: Fault("restart", n)),
    )


def fault_schedules(clusters: Sequence[str], max_size: int = 10) -> st.SearchStrategy[list[Fault]]:
    """Lists of faults (partitions, heals, latency, loss, crash/restart, time advances) to
    ``apply`` in order; shrinks toward no faults and toward advancing time."""
    return st.lists(faults(clusters), max_size=max_size)


def apply_faults(world: World, schedule: Sequence[Fault]) -> None:
    for fault in schedule:
        fault.apply(world)


# -- topologies -----------------------------------------------------------------------------------
@dataclass
class Topology:
    """Clusters, who peers with whom, what each registers, exports and allows. ``build`` makes
    it in a world through the HTTP API, as a user would, and settles."""

    clusters: list[str]
    peerings: list[tuple[str, str]] = field(default_factory=list)
    """(acceptor, dialer) pairs; each side names the other by its cluster name."""
    services: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """cluster -> catalog registration bodies."""
    exports: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """cluster -> service -> consumer peer names."""
    intentions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """cluster -> service-intentions entries."""

    def build(self, world: World) -> dict[str, Cluster]:
        made = {name: world.add_cluster(name) for name in self.clusters}
        for acceptor, dialer in self.peerings:
            peer(made[acceptor], made[dialer])
        for name, bodies in self.services.items():
            for body in bodies:
                r = made[name].client.put("/v1/catalog/register", json=body)
                if r.status_code != 200:
                    raise AssertionError(f"{name} refused {body}: {r.status_code} {r.text}")
        for name, entries in self.intentions.items():
            for entry in entries:
                r = made[name].client.put("/v1/config", json=entry)
                if r.status_code != 200:
                    raise AssertionError(f"{name} refused {entry}: {r.status_code} {r.text}")
        for name, services in self.exports.items():
            if services:
                export(made[name], services)
        world.settle()
        return made

    def peers_of(self, cluster: str) -> list[str]:
        out = {b for a, b in self.peerings if a == cluster}
        out.update(a for a, b in self.peerings if b == cluster)
        return sorted(out)


@st.composite
def _topology(
    draw: st.DrawFn, min_clusters: int, max_clusters: int, names: Mapping[str, list[str]]
) -> Topology:
    count = draw(st.integers(min_clusters, max_clusters))
    clusters = [f"cluster-{i:02d}" for i in range(1, count + 1)]
    all_pairs = [(a, b) for i, a in enumerate(clusters) for b in clusters[i + 1 :]]
    chosen = draw(st.lists(st.sampled_from(all_pairs), min_size=1, unique=True))
    peerings = [(b, a) if draw(st.booleans()) else (a, b) for a, b in chosen]
    topo = Topology(clusters, peerings)
    service_pool = names["services"]
    for cluster in clusters:
        topo.services[cluster] = draw(st.lists(registrations(service_pool), max_size=4))
        partners = topo.peers_of(cluster)
        if partners:
            entry = draw(st.one_of(st.none(), exported_services_entries(service_pool, partners)))
            if entry is not None:
                topo.exports[cluster] = {
                    s["Name"]: [c["Peer"] for c in s["Consumers"]] for s in entry["Services"]
                }
            if draw(st.booleans()):
                dest = draw(st.sampled_from(service_pool))
                topo.intentions[cluster] = [
                    draw(service_intentions_entries(dest, service_pool, partners))
                ]
    return topo


def topologies(
    min_clusters: int = 2, max_clusters: int = 5, services: Sequence[str] = ("web", "api", "db")
) -> st.SearchStrategy[Topology]:
    """A :class:`Topology`: ``cluster-01`` ... up to ``max_clusters``, at least one peering,
    instances of ``services`` in drawn health, exports to peers and intentions. Shrinks toward
    two clusters, one peering, nothing registered."""
    if min_clusters < 2 or max_clusters < min_clusters:
        raise ValueError("topologies need 2 <= min_clusters <= max_clusters")
    return _topology(min_clusters, max_clusters, {"services": list(services)})
