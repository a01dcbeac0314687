"""Prepared queries: definitions, their validation and storage, and executing them with failover.

What Consul does, followed here (agent/structs/prepared_query.go,
agent/consul/prepared_query_endpoint.go, agent/consul/state/prepared_query.go):

* Writes are validated in three layers, each with its own prefix on the 500 answer: the RPC
  (``ID must be empty ...``, ``Cannot modify non-existent prepared query: '<id>'``), ``parseQuery``
  (``Invalid prepared query: <why>``) and the state store behind Raft
  (``raft apply failed: <why>``: name clashes, sessions, templates).
* IDs are looked up through a UUID index, so a malformed ID is a lookup error, not a miss.
* Executing runs the query against local data, drops unhealthy instances, shuffles, applies
  ``limit``; only an empty answer fails over, trying targets in order. A peer target is answered
  locally from the data imported from that peer. There is no WAN federation in the simulator, so
  no other datacenter is known and every datacenter target (and ``NearestN``) is skipped, as
  Consul skips datacenters it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from pydantic import Field

from consul_sim.catalog.queries import CheckServiceNode, check_service_nodes
from consul_sim.durations import DurationError, parse_duration
from consul_sim.errors import BadRequest, ConsulError, NotFound
from consul_sim.filter.regex import GoRegexp, RegexpSyntaxError
from consul_sim.meta import validate_meta
from consul_sim.models.base import ConsulModel, DecodeError, decode_body
from consul_sim.models.catalog import CRITICAL, PASSING
from consul_sim.rand import SimRandom
from consul_sim.store import Store
from consul_sim.store.prepared import PREPARED_QUERIES, PreparedQueriesTable, table_of
from consul_sim.store.uuidindex import uuid_index_error

QUERY_NOT_FOUND = "Query not found"
MISSING_QUERY_ID = "Missing query ID"
REDACTED_TOKEN = "<hidden>"
NAME_PREFIX_MATCH = "name_prefix_match"


# -- the definition -----------------------------------------------------------------------------
class QueryFailoverTarget(ConsulModel):
    go_name: ClassVar[str] = "QueryFailoverTarget"
    peer: str = ""
    datacenter: str = ""


class QueryFailoverOptions(ConsulModel):
    go_name: ClassVar[str] = "QueryFailoverOptions"
    nearest_n: int = 0
    datacenters: list[str] | None = None
    targets: list[QueryFailoverTarget] | None = None


class ServiceQuery(ConsulModel):
    go_name: ClassVar[str] = "ServiceQuery"
    service: str = ""
    sameness_group: str = ""
    failover: QueryFailoverOptions = Field(default_factory=QueryFailoverOptions)
    only_passing: bool = False
    ignore_check_ids: list[str] | None = None
    near: str = ""
    tags: list[str] | None = None
    node_meta: dict[str, str] | None = None
    service_meta: dict[str, str] | None = None
    connect: bool = False
    peer: str = ""


class QueryTemplateOptions(ConsulModel):
    go_name: ClassVar[str] = "QueryTemplateOptions"
    type: str = ""
    regexp: str = ""
    remove_empty_tags: bool = False


class QueryDNSOptions(ConsulModel):
    go_name: ClassVar[str] = "QueryDNSOptions"
    ttl: str = ""


class PreparedQuery(ConsulModel):
    go_name: ClassVar[str] = "PreparedQuery"
    id: str = ""
    name: str = ""
    session: str = ""
    token: str = ""
    template: QueryTemplateOptions = Field(default_factory=QueryTemplateOptions)
    service: ServiceQuery = Field(default_factory=ServiceQuery)
    dns: QueryDNSOptions = Field(default_factory=QueryDNSOptions)
    create_index: int = 0
    modify_index: int = 0

    @property
    def is_template(self) -> bool:
        return self.template.type != ""

    def render(self) -> dict[str, Any]:
        """Go's field order; nil slices and maps stay ``null`` as Consul echoes them."""
        svc = self.service
        targets = svc.failover.targets
        return {
            "ID": self.id,
            "Name": self.name,
            "Session": self.session,
            "Token": self.token,
            "Template": {
                "Type": self.template.type,
                "Regexp": self.template.regexp,
                "RemoveEmptyTags": self.template.remove_empty_tags,
            },
            "Service": {
                "Service": svc.service,
                "SamenessGroup": svc.sameness_group,
                "Failover": {
                    "NearestN": svc.failover.nearest_n,
                    "Datacenters": svc.failover.datacenters,
                    "Targets": None
                    if targets is None
                    else [{"Peer": t.peer, "Datacenter": t.datacenter} for t in targets],
                },
                "OnlyPassing": svc.only_passing,
                "IgnoreCheckIDs": svc.ignore_check_ids,
                "Near": svc.near,
                "Tags": svc.tags,
                "NodeMeta": svc.node_meta,
                "ServiceMeta": svc.service_meta,
                "Connect": svc.connect,
                "Peer": svc.peer,
            },
            "DNS": {"TTL": self.dns.ttl},
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


def decode_definition(data: Any) -> PreparedQuery:
    """A request body as Consul's decodeBody reads it; a bad body is a 400."""
    try:
        return decode_body(PreparedQuery, data)
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None


# -- UUID index lookups --------------------------------------------------------------------------
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


# -- storage ------------------------------------------------------------------------------------
def _table(store: Store) -> PreparedQueriesTable[PreparedQuery]:
    return cast(PreparedQueriesTable[PreparedQuery], table_of(store))


def _lookup_by_id(store: Store, query_id: str, wrap: str) -> PreparedQuery | None:
    problem = uuid_index_error(query_id)
    if problem is not None:
        raise ConsulError(f"{wrap}{problem}")
    return _table(store).get(query_id)


def _by_name(store: Store, name: str) -> PreparedQuery | None:
    lowered = name.lower()
    for query in _table(store).list():
        if query.name and query.name.lower() == lowered:
            return query
    return None


def create(store: Store, rand: SimRandom, query: PreparedQuery) -> str:
    """PreparedQuery.Apply with op ``create``: the new query's ID."""
    if query.id:
        raise ConsulError("ID must be empty when creating a new prepared query")
    table = _table(store)
    with store.lock:
        query_id = rand.uuid()
        while table.get(query_id) is not None:
            query_id = rand.uuid()
        query = query.model_copy(update={"id": query_id})
        _parse_query(query)
        _set(store, query)
    return query_id


def update(store: Store, query_id: str, query: PreparedQuery) -> None:
    """PreparedQuery.Apply with op ``update``; the ID comes from the URL, not the body."""
    with store.lock:
        if _lookup_by_id(store, query_id, "Prepared Query lookup failed: ") is None:
            raise ConsulError(f"Cannot modify non-existent prepared query: '{query_id}'")
        query = query.model_copy(update={"id": query_id})
        _parse_query(query)
        _set(store, query)


def delete(store: Store, query_id: str) -> None:
    with store.lock:
        if _lookup_by_id(store, query_id, "Prepared Query lookup failed: ") is None:
            raise ConsulError(f"Cannot modify non-existent prepared query: '{query_id}'")
        with store.txn() as txn:
            _table(store).delete(txn, query_id)


def get(store: Store, query_id: str) -> tuple[int, PreparedQuery]:
    """PreparedQuery.Get: by ID only (names are for execute and explain)."""
    with store.lock:
        index = store.max_index((PREPARED_QUERIES,))
        query = _lookup_by_id(store, query_id, "failed prepared query lookup: ")
        if query is None:
            raise NotFound(QUERY_NOT_FOUND)
        return index, query


def list_queries(store: Store) -> tuple[int, list[PreparedQuery]]:
    with store.lock:
        return store.max_index((PREPARED_QUERIES,)), _table(store).list()


def _parse_query(query: PreparedQuery) -> None:
    problem = _query_problem(query)
    if problem is not None:
        raise ConsulError(f"Invalid prepared query: {problem}")


def _query_problem(query: PreparedQuery) -> str | None:
    """parseQuery, parseService and parseDNS, in Consul's order."""
    if query.name == "" and query.template.type == "" and query.session == "":
        return "Must be bound to a session"
    if query.token == REDACTED_TOKEN:
        return (
            f"Bad Token '{query.token}', it looks like a query definition with a redacted token "
            "was submitted"
        )
    svc = query.service
    if svc.service == "":
        return "Must provide a Service name to query"
    failover = svc.failover
    if failover.nearest_n < 0:
        return f"Bad NearestN '{failover.nearest_n}', must be >= 0"
    if (failover.nearest_n != 0 or failover.datacenters) and failover.targets:
        return "Targets cannot be populated with NearestN or Datacenters"
    if svc.node_meta:
        problem = validate_meta(svc.node_meta, allow_consul_prefix=True)
        if problem is not None:
            return problem
    if query.dns.ttl:
        try:
            ttl = parse_duration(query.dns.ttl)
        except DurationError as exc:
            return f"Bad DNS TTL '{query.dns.ttl}': {exc}"
        if ttl < 0:
            return f"DNS TTL '{round(ttl * 1e9)}', must be >=0"
    return None


def _set(store: Store, query: PreparedQuery) -> None:
    """preparedQuerySetTxn: integrity checks the state store makes, then the write."""
    problem = _set_problem(store, query)
    if problem is not None:
        raise ConsulError(f"raft apply failed: {problem}")
    table = _table(store)
    existing = table.get(query.id)
    with store.txn() as txn:
        table.put(txn, query.id, txn.stamp(query, existing))


def _set_problem(store: Store, query: PreparedQuery) -> str | None:
    table = _table(store)
    if query.name:
        other = _by_name(store, query.name)
        if other is not None and other.id != query.id:
            return f"name '{query.name}' aliases an existing query name"
    elif query.is_template:
        for other in table.list():
            if other.is_template and other.name == "" and other.id != query.id:
                return "a query template with an empty name already exists"
    if is_uuid(query.name) and table.get(query.name) is not None:
        return f"name '{query.name}' aliases an existing query ID"
    if query.session:
        problem = uuid_index_error(query.session)
        if problem is not None:
            return f"invalid session: {problem}"
        if store.sessions.get(query.session) is None:
            return f'invalid session "{query.session}"'
    if query.is_template:
        problem = _template_problem(query)
        if problem is not None:
            return f"failed compiling template: {problem}"
    return None


# -- templates ----------------------------------------------------------------------------------
_HIL = re.compile(r"\$\{\s*(name\.full|name\.prefix|name\.suffix|match\(\s*(\d+)\s*\))\s*\}")


def _template_problem(query: PreparedQuery) -> str | None:
    if query.template.type != NAME_PREFIX_MATCH:
        return f"Bad Template.Type '{query.template.type}'"
    if query.template.regexp:
        try:
            GoRegexp(query.template.regexp)
        except RegexpSyntaxError as exc:
            return f"Bad Regexp: {exc}"
    return None


def render_template(query: PreparedQuery, name: str) -> PreparedQuery:
    """Interpolate ``${name.full}``, ``${name.prefix}``, ``${name.suffix}`` and ``${match(N)}``
    into every string of the Service block, as Consul's HIL rendering does for these forms."""
    matches: list[str] = []
    if query.template.regexp:
        # Go's regexp (RE2): linear in the name, whatever the pattern.
        matches = GoRegexp(query.template.regexp).submatches(name) or []
    suffix = name[len(query.name) :] if name.startswith(query.name) else name

    def one(text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(2) is not None:
                i = int(m.group(2))
                return matches[i] if i < len(matches) else ""
            return {"name.full": name, "name.prefix": query.name, "name.suffix": suffix}[m.group(1)]

        return _HIL.sub(sub, text)

    svc = query.service
    tags = None if svc.tags is None else [one(t) for t in svc.tags]
    if tags is not None and query.template.remove_empty_tags:
        tags = [t for t in tags if t]
    failover = svc.failover.model_copy(
        update={
            "datacenters": None
            if svc.failover.datacenters is None
            else [one(d) for d in svc.failover.datacenters],
            "targets": None
            if svc.failover.targets is None
            else [
                QueryFailoverTarget(peer=one(t.peer), datacenter=one(t.datacenter))
                for t in svc.failover.targets
            ],
        }
    )
    rendered = svc.model_copy(
        update={
            "service": one(svc.service),
            "sameness_group": one(svc.sameness_group),
            "near": one(svc.near),
            "peer": one(svc.peer),
            "tags": tags,
            "failover": failover,
            "ignore_check_ids": None
            if svc.ignore_check_ids is None
            else [one(c) for c in svc.ignore_check_ids],
            "node_meta": None
            if svc.node_meta is None
            else {k: one(v) for k, v in svc.node_meta.items()},
            "service_meta": None
            if svc.service_meta is None
            else {k: one(v) for k, v in svc.service_meta.items()},
        }
    )
    return query.model_copy(update={"service": rendered})


def resolve(store: Store, id_or_name: str) -> PreparedQuery:
    """PreparedQueryResolve: an ID, then an exact name, then the longest template prefix."""
    if id_or_name == "":
        raise ConsulError(MISSING_QUERY_ID)
    with store.lock:
        table = _table(store)
        if is_uuid(id_or_name):
            query = table.get(id_or_name)
            if query is not None:
                if query.is_template:
                    raise ConsulError(
                        "prepared query templates can only be resolved up by name, not by ID"
                    )
                return query
        query = _by_name(store, id_or_name)
        if query is None:
            lowered = id_or_name.lower()
            templates = [
                q for q in table.list() if q.is_template and lowered.startswith(q.name.lower())
            ]
            if templates:
                query = max(templates, key=lambda q: len(q.name))
        if query is None:
            raise NotFound(QUERY_NOT_FOUND)
        if query.is_template:
            return render_template(query, id_or_name)
        return query


# -- execution ----------------------------------------------------------------------------------
@dataclass
class ExecuteResult:
    """PreparedQueryExecuteResponse without its query meta (the HTTP layer adds that)."""

    service: str
    dns: QueryDNSOptions
    datacenter: str
    peer_name: str = ""
    failovers: int = 0
    nodes: list[CheckServiceNode] = field(default_factory=list)


def _healthy(csn: CheckServiceNode, only_passing: bool, ignore: set[str]) -> bool:
    for check in csn.checks:
        if check.check_id in ignore:
            continue
        if check.status == CRITICAL or (only_passing and check.status != PASSING):
            return False
    return True


def _has_meta(meta: dict[str, str], want: dict[str, str]) -> bool:
    return all(k in meta and meta[k] == v for k, v in want.items())


def _tags_match(tags: list[str], want: list[str]) -> bool:
    have = {t.lower() for t in tags}
    for tag in want:
        tag = tag.lower()
        if tag.startswith("!"):
            if tag[1:] in have:
                return False
        elif tag not in have:
            return False
    return True


def _run(store: Store, query: PreparedQuery, datacenter: str, peer: str) -> ExecuteResult:
    """The local lookup of one target: all instances (of the peer's imported data when ``peer``),
    health, meta and tag filters; unsorted and unlimited."""
    svc = query.service
    _, nodes = check_service_nodes(store, svc.service, peer=peer)
    ignore = set(svc.ignore_check_ids or ())
    nodes = [n for n in nodes if _healthy(n, svc.only_passing, ignore)]
    if svc.node_meta:
        nodes = [n for n in nodes if _has_meta(n.node.meta, svc.node_meta)]
    if svc.service_meta:
        nodes = [n for n in nodes if _has_meta(n.service.meta, svc.service_meta)]
    if svc.tags:
        nodes = [n for n in nodes if _tags_match(n.service.tags, svc.tags)]
    return ExecuteResult(
        service=svc.service,
        dns=query.dns,
        datacenter="" if peer else datacenter,
        peer_name=peer,
        nodes=nodes,
    )


def execute(
    store: Store,
    rand: SimRandom,
    id_or_name: str,
    *,
    datacenter: str,
    agent_node: str,
    near: str = "",
    limit: int = 0,
) -> ExecuteResult:
    """PreparedQuery.Execute: local answer first, then the failover targets in order."""
    query = resolve(store, id_or_name)
    with store.lock:
        result = _run(store, query, datacenter, query.service.peer)
    rand.shuffle(cast(list[object], result.nodes))
    source = near or query.service.near
    if source == "_agent":
        source = agent_node
    elif source == "_ip":
        source = ""
    # No network coordinates exist, so the RTT sort leaves the shuffle; Consul still moves the
    # node asked for to the front when it is among the first ten.
    if source and result.datacenter == datacenter:
        for i, csn in enumerate(result.nodes[:10]):
            if csn.node.node.lower() == source.lower():
                result.nodes[0], result.nodes[i] = result.nodes[i], result.nodes[0]
                break
    if limit > 0:
        result.nodes = result.nodes[:limit]
    if not result.nodes:
        result = _failover(store, rand, query, result, datacenter, limit)
    return result


def _failover(
    store: Store,
    rand: SimRandom,
    query: PreparedQuery,
    result: ExecuteResult,
    datacenter: str,
    limit: int,
) -> ExecuteResult:
    """queryFailover: NearestN picks from the other datacenters by RTT and listed datacenters must
    be known ones; with no WAN federation there are none (the local one is never a candidate).
    Peer targets are kept and answered locally from the peer's imported data."""
    failover = query.service.failover
    targets: list[QueryFailoverTarget]
    if failover.datacenters:
        targets = [QueryFailoverTarget(datacenter=dc) for dc in failover.datacenters]
    else:
        targets = list(failover.targets or ())
    tried = [t for t in targets if t.peer and not t.datacenter]
    failovers = 0
    for target in tried:
        failovers += 1
        with store.lock:
            result = _run(store, query, datacenter, target.peer)
        rand.shuffle(cast(list[object], result.nodes))
        if limit > 0:
            result.nodes = result.nodes[:limit]
        if result.nodes:
            break
    result.failovers = failovers
    return result
