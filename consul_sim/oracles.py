"""Oracles: what must hold of a world, checked against its state and explained when it fails.

``world.check_invariants()`` runs every check here and raises :class:`InvariantViolation`, which
names the cluster, the peer and the service, says what was expected and what was found, and
quotes the journal lines between the two clusters involved, so a failing property test reads as
a diff rather than a bare ``assert``. The checks:

* **imports equal exports** on every pair whose two ends both show ACTIVE over a clean link
  (not partitioned, held or lossy, neither end crashed) once nothing is pending: the importer
  holds, under its name for the peering, exactly the typical instances the exporter would send
  (``peering/replication.py``'s ``service_snapshot``, Consul's ``health_snapshot.go``), with the
  same overall health, and its tracker lists the names ``exported_names`` gives. A link that
  lost messages since it was last clean needs a heartbeat to resend them (Consul resends the
  whole state on the next stream, ``peerstream/replication.go``), so the pair is skipped while
  the journal's last message between them was dropped;
* **no foreign data**: a cluster holds imported data only under the name of one of its own
  peerings that is not DELETING or TERMINATED (Consul deletes a peer's data with the peering,
  ``peering_backend.go``'s ``PeeringDelete`` then ``deleteTrustBundle``/catalog cleanup);
* **indexes never go down**: each store's Raft index and each table's index is at least what
  the previous call saw (a high-water mark per cluster kept on the world);
* **legal states**: stored states are Consul's four stored values (``STORED_STATES``), names
  are unique case-insensitively, and ``DeletedAt`` is set exactly when DELETING.

The exception lives at the world's layer so ``World`` can raise it;
``consul_sim.testing.InvariantViolation`` is this same class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from consul_sim.journal import JournalEntry
from consul_sim.models.peering_state import STORED_STATES, PeeringState, shown_state
from consul_sim.peering.replication import (
    exported_names,
    imported_names,
    overall_status,
    service_snapshot,
)

if TYPE_CHECKING:
    from consul_sim.models.peering import Peering
    from consul_sim.world import Cluster, World

JOURNAL_LINES = 6
"""How many journal lines between the two clusters a problem quotes."""

GONE_STATES = frozenset({PeeringState.DELETING, PeeringState.TERMINATED})


@dataclass(frozen=True)
class Problem:
    """One broken invariant: where (cluster, peer, service), what was expected and found."""

    check: str
    cluster: str
    expected: str
    found: str
    peer: str = ""
    service: str = ""
    journal: tuple[JournalEntry, ...] = ()

    def render(self) -> str:
        where = f"cluster {self.cluster}"
        if self.peer:
            where += f", peer {self.peer}"
        if self.service:
            where += f", service {self.service}"
        lines = [
            f"[{self.check}] {where}",
            f"  expected: {self.expected}",
            f"  found:    {self.found}",
        ]
        if self.journal:
            lines.append("  journal:")
            lines.extend(f"    {line}" for line in journal_lines(self.journal))
        return "\n".join(lines)


def journal_lines(entries: Iterable[JournalEntry]) -> list[str]:
    out = []
    for e in entries:
        src = e.source_cluster or e.source
        dst = e.destination_cluster or e.destination
        text = f"#{e.seq} t={e.at:.3f} {src} -> {dst} {e.kind} {e.outcome}"
        if e.summary:
            text += f" ({e.summary})"
        out.append(text)
    return out


class InvariantViolation(AssertionError):
    """A world broke one or more invariants; ``.problems`` holds each, the message shows all.

    An ``AssertionError`` so pytest and Hypothesis treat it as a failed check, not a crash."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} invariant{'s' if count != 1 else ''} broken"
        super().__init__("\n".join([head, *(p.render() for p in self.problems)]))


@dataclass
class IndexMarks:
    """The highest index seen per cluster (and per table), between calls."""

    store: dict[str, int] = field(default_factory=dict)
    tables: dict[tuple[str, str], int] = field(default_factory=dict)


def between(
    world: World, a: str, b: str, n: int = JOURNAL_LINES, *, about: str = ""
) -> tuple[JournalEntry, ...]:
    """The last ``n`` journal lines on the link between clusters ``a`` and ``b``. With
    ``about`` (a service name), half of them are the latest lines whose summary names it (the
    replication of that service), the rest the link's latest lines, in journal order."""
    pair = {a, b}
    recent: list[JournalEntry] = []
    mentions: list[JournalEntry] = []
    wanted = n - n // 2 if about else n
    for entry in reversed(world.network.journal):
        if {entry.source_cluster, entry.destination_cluster} != pair:
            continue
        if len(recent) < wanted:
            recent.append(entry)
        elif about and len(mentions) < n // 2 and about in entry.summary:
            mentions.append(entry)
        if len(recent) >= wanted and (not about or len(mentions) >= n // 2):
            break
    return tuple(sorted([*recent, *mentions], key=lambda e: e.seq))


def other_end(world: World, cluster: Cluster, record: Peering) -> tuple[Cluster, Peering] | None:
    """The cluster at the other end of ``record`` and its record of the same peering."""
    from consul_sim.calls import _other_end

    found = _other_end(world.clusters, cluster, record)
    if found is None:
        return None
    return world.clusters[found[0].name], found[1]


def _last_lines(world: World) -> dict[frozenset[str], JournalEntry]:
    """The latest journal line of every pair of clusters that has one, in one backward pass
    that stops once every pair is found."""
    clusters = world.clusters
    pairs = len(clusters) * (len(clusters) - 1) // 2
    last: dict[frozenset[str], JournalEntry] = {}
    for entry in reversed(world.network.journal):
        a, b = entry.source_cluster, entry.destination_cluster
        key = frozenset((a, b))
        if a in clusters and b in clusters and a != b and key not in last:
            last[key] = entry
            if len(last) >= pairs:
                break
    return last


def _link_clean(world: World, a: str, b: str, last: Mapping[frozenset[str], JournalEntry]) -> bool:
    network = world.network
    if a in network.crashed or b in network.crashed:
        return False
    settings = network.settings_between(a, b)
    if settings.partitioned or settings.held or settings.loss:
        return False
    entry = last.get(frozenset((a, b)))
    return not (entry is not None and entry.outcome.startswith("dropped"))


def _shown(cluster: Cluster, record: Peering) -> PeeringState:
    return shown_state(record.state, cluster.peering.tracker.get(record.id))


Instance = tuple[str, str, str]
"""(node, service ID, overall health) of one instance, as importer and exporter must agree."""


def exported_view(exporter: Cluster, name: str) -> list[Instance]:
    payload = service_snapshot(exporter.store, name)
    return sorted(
        (i.node.node, i.service.id, overall_status(i.checks) or "") for i in payload.nodes
    )


def imported_view(importer: Cluster, peer: str, name: str) -> list[Instance]:
    out = []
    for row, svc in importer.store.catalog.instances(peer, name):
        checks = [c for c in row.checks.values() if not c.service_id or c.service_id == svc.id]
        out.append((row.node.node, svc.id, overall_status(checks) or ""))
    return sorted(out)


@dataclass(frozen=True)
class ActivePair:
    """A peering both of whose ends show ACTIVE over a clean link: where imports must equal
    exports once the world is settled. ``record``/``theirs``: each side's record of it."""

    importer: Cluster
    record: Peering
    exporter: Cluster
    theirs: Peering


def clean_active_pairs(world: World) -> list[ActivePair]:
    """Every (importer, exporter) peering whose two ends show ACTIVE over a clean link (not
    partitioned, held or lossy, neither end crashed, the link's last message not dropped), in
    importer name order. The caller holds the world's lock."""
    out = []
    last = _last_lines(world)
    for name in sorted(world.clusters):
        importer = world.clusters[name]
        for record in importer.peering.table.list():
            if _shown(importer, record) != PeeringState.ACTIVE:
                continue
            found = other_end(world, importer, record)
            if found is None:
                continue
            exporter, theirs = found
            if _shown(exporter, theirs) != PeeringState.ACTIVE:
                continue
            if _link_clean(world, importer.name, exporter.name, last):
                out.append(ActivePair(importer, record, exporter, theirs))
    return out


def _imports(world: World, pair: ActivePair, problems: list[Problem]) -> None:
    importer, record, exporter, theirs = pair.importer, pair.record, pair.exporter, pair.theirs
    want = exported_names(exporter.store, theirs.name)
    extra = sorted(set(imported_names(importer.store, record.name)) - set(want))
    extra = [n for n in extra if not n.endswith("-sidecar-proxy")]
    found_before = len(problems)
    for name in extra:
        problems.append(
            Problem(
                "no-foreign-data",
                importer.name,
                f"no data of {name!r}: {exporter.name} does not export it to "
                f"{theirs.name!r} (exports {want})",
                f"{len(imported_view(importer, record.name, name))} imported instance(s)",
                record.name,
                name,
            )
        )
    for name in want:
        expected = exported_view(exporter, name)
        got = imported_view(importer, record.name, name)
        if got != expected:
            problems.append(
                Problem(
                    "imports-equal-exports",
                    importer.name,
                    f"{expected} (what {exporter.name} exports to {theirs.name!r})",
                    str(got),
                    record.name,
                    name,
                )
            )
    stream = importer.peering.tracker.get(record.id)
    listed = sorted(stream.imported_services or []) if stream is not None else []
    if listed != want:
        problems.append(
            Problem(
                "imports-equal-exports",
                importer.name,
                f"ImportedServices {want}",
                f"ImportedServices {listed}",
                record.name,
                "",
            )
        )
    if len(problems) > found_before:
        # The journal lines are looked up only for a problem: a backward scan of the ring.
        for i in range(found_before, len(problems)):
            about = problems[i].service
            journal = between(world, importer.name, exporter.name, about=about)
            problems[i] = replace(problems[i], journal=journal)


def _owned_data(cluster: Cluster, problems: list[Problem]) -> None:
    for peer in sorted(p for p in cluster.store.catalog.peers() if p):
        record = cluster.peering.table.get(peer)
        names = imported_names(cluster.store, peer)
        if record is None:
            problems.append(
                Problem(
                    "no-foreign-data",
                    cluster.name,
                    f"data imported only under the name of a peering of {cluster.name}",
                    f"{names} imported under {peer!r}, which names no peering",
                    peer,
                )
            )
        elif record.state in GONE_STATES:
            problems.append(
                Problem(
                    "no-foreign-data",
                    cluster.name,
                    "a peering's data gone once it is deleted",
                    f"{names} still held while the peering is {record.state.value}",
                    peer,
                )
            )


def _indexes(cluster: Cluster, marks: IndexMarks, problems: list[Problem]) -> None:
    store = cluster.store
    before = marks.store.get(cluster.name, 0)
    if store.index < before:
        problems.append(
            Problem(
                "index-never-goes-down",
                cluster.name,
                f"Raft index >= {before} (seen before)",
                f"Raft index {store.index}",
            )
        )
    marks.store[cluster.name] = max(before, store.index)
    for table, index in sorted(store.table_index.items()):
        key = (cluster.name, table)
        seen = marks.tables.get(key, 0)
        if index < seen:
            problems.append(
                Problem(
                    "index-never-goes-down",
                    cluster.name,
                    f"table {table!r} index >= {seen} (seen before)",
                    f"table {table!r} index {index}",
                )
            )
        marks.tables[key] = max(seen, index)


def _states(cluster: Cluster, problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for record in cluster.peering.table.list():
        if record.state not in STORED_STATES:
            problems.append(
                Problem(
                    "legal-states",
                    cluster.name,
                    f"a stored state in {sorted(s.value for s in STORED_STATES)}",
                    f"stored state {record.state.value}",
                    record.name,
                )
            )
        if (record.state == PeeringState.DELETING) != (record.deleted_at is not None):
            problems.append(
                Problem(
                    "legal-states",
                    cluster.name,
                    "DeletedAt set exactly when DELETING",
                    f"state {record.state.value}, DeletedAt {record.deleted_at}",
                    record.name,
                )
            )
        folded = record.name.lower()
        if folded in seen:
            problems.append(
                Problem(
                    "legal-states",
                    cluster.name,
                    "peering names unique regardless of case",
                    f"{seen[folded]!r} and {record.name!r}",
                    record.name,
                )
            )
        seen[folded] = record.name


def find_problems(world: World, marks: IndexMarks) -> list[Problem]:
    """Every broken invariant, in cluster order. The import checks run only when nothing is
    pending: in flight, an import is legitimately behind its export."""
    problems: list[Problem] = []
    with world.lock:
        clusters: Mapping[str, Cluster] = world.clusters
        settled = not world.pending()
        for name in sorted(clusters):
            cluster = clusters[name]
            _indexes(cluster, marks, problems)
            _states(cluster, problems)
            _owned_data(cluster, problems)
        if settled:
            for pair in clean_active_pairs(world):
                _imports(world, pair, problems)
    return problems


def check_invariants(world: World, marks: IndexMarks) -> None:
    problems = find_problems(world, marks)
    if problems:
        raise InvariantViolation(problems)
