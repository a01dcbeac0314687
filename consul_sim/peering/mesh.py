"""The service-mesh half of peering: mesh gateways, synthetic sidecars, and the dial path.

Consul's exporter sends, beside each exported service's own instances (scrubbed of their Connect
data), a synthetic ``<service>-sidecar-proxy`` for every exported service that is
Connect-capable, one instance per local mesh gateway, standing *at* the gateway: its node, its
address, port and tagged addresses, its health, with ``Connect.PeerMeta`` telling the importing
mesh which SNI and SPIFFE IDs to expect (``peerstream/subscription_manager.go``,
``createDiscoChainHealth``). With no mesh gateway nothing synthetic is sent at all (the
subscription manager skips the event until it has a gateway list); when the last gateway goes,
the synthetic instances are withdrawn.

The same gateways carry the control plane when the ``mesh`` entry says
``Peering.PeerThroughMeshGateways``: the acceptor advertises its gateways' WAN addresses instead
of its servers' (in the token, ``peering_backend.go``'s ``GetLocalServerAddresses``, and in the
``PeeringServerAddresses`` it replicates, ``subscription_manager.go``'s
``notifyServerMeshGatewayAddresses``), and the dialer tries its own local gateways first, then the
peer's addresses directly (``GetDialAddresses``: the ring is front-loaded with local gateways;
with none registered Consul logs a warning and dials the peer directly). Which peer addresses are
dialed follows ``Peering.GetAddressesToDial`` (``proto/pbpeering/peering.go``): the token's
``ManualServerAddresses`` exclusively when there are any, else ``PeerServerAddresses``.

A cluster's view of its own mesh (which names are gateways, which are proxies for what, which
are Connect native) is kept by :class:`MeshIndex` from the catalog's change log, so nothing here
scans the catalog: a world exporting thousands of plain services pays nothing for the mesh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consul_sim.errors import RPCError
from consul_sim.models.catalog import Node, NodeService
from consul_sim.peering.replication import (
    SERVER_ADDRESSES_ID,
    SIDECAR_SUFFIX,
    VIRTUAL_TAGGED_ADDRESS,
    ExportedInstance,
    ExportedServicePayload,
    flatten_checks,
)
from consul_sim.peering.tokens import unknown

if TYPE_CHECKING:
    from consul_sim.models.peering import Peering
    from consul_sim.net import Network
    from consul_sim.store import Store
    from consul_sim.store.catalog import NodeRow

MESH_GATEWAY = "mesh-gateway"
CONNECT_PROXY = "connect-proxy"
WAN = "wan"
DEFAULT_PROTOCOL = "tcp"
HTTP_LIKE = frozenset({"http", "http2", "grpc"})
"""``structs.IsProtocolHTTPLike``: L7 chains need no TCP targets in ``PeerMeta``."""

NO_GATEWAYS = (
    "servers are configured to PeerThroughMeshGateways, but no mesh gateway instances are "
    "registered"
)
"""``peering_backend.go``'s ``meshGatewayAdresses`` when there is no gateway to advertise."""


# -- reading the local mesh ------------------------------------------------------------------------
def peer_through_mesh_gateways(store: Store) -> bool:
    """``mesh`` entry ``Peering.PeerThroughMeshGateways`` (``MeshConfigEntry``'s accessor:
    false when there is no entry or no ``Peering`` block)."""
    from consul_sim.models.config_entries import MESH, MESH_NAME, MeshConfigEntry

    entry = store.config.get(MESH, MESH_NAME)
    if not isinstance(entry, MeshConfigEntry) or entry.peering is None:
        return False
    return entry.peering.peer_through_mesh_gateways


def protocol_for(store: Store, name: str) -> str:
    """The protocol Consul compiles for ``name``'s chain: its ``service-defaults``, else the
    global ``proxy-defaults`` ``Config.protocol``, else ``tcp`` (``protocolForService``)."""
    from consul_sim.models.config_entries import (
        PROXY_DEFAULTS,
        PROXY_DEFAULTS_NAME,
        SERVICE_DEFAULTS,
        ProxyDefaultsConfigEntry,
        ServiceDefaultsConfigEntry,
    )

    defaults = store.config.get(SERVICE_DEFAULTS, name)
    if isinstance(defaults, ServiceDefaultsConfigEntry) and defaults.protocol:
        return defaults.protocol.lower()
    proxy = store.config.get(PROXY_DEFAULTS, PROXY_DEFAULTS_NAME)
    if isinstance(proxy, ProxyDefaultsConfigEntry):
        protocol = proxy.config.get("protocol")
        if isinstance(protocol, str) and protocol:
            return protocol.lower()
    return DEFAULT_PROTOCOL


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort`` (``ipaddr.FormatAddressPort``): IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def best_address(node: Node, svc: NodeService, *, wan: bool) -> str:
    """``CheckServiceNode.BestAddress``: the service's WAN tagged address (when ``wan``), else
    its address, else the node's WAN tagged address (when ``wan``), else the node's; the port
    is the WAN tagged port when it has one, else the service's."""
    addr, port = svc.address, svc.port
    tagged = svc.tagged_addresses.get(WAN) if wan else None
    if tagged is not None:
        addr = tagged.address
        if tagged.port:
            port = tagged.port
    if not addr:
        addr = (node.tagged_addresses.get(WAN, "") if wan else "") or node.address
    return join_host_port(addr, port)


@dataclass
class MeshIndex:
    """Which local service names are mesh gateways, connect proxies (and for what) or Connect
    native, kept from the catalog's change log. ``version`` moves whenever anything a
    synthetic export or an advertised address depends on may have changed."""

    cursor: int = 0
    gateway_names: set[str] = field(default_factory=set)
    proxies: dict[str, frozenset[str]] = field(default_factory=dict)
    """Proxy service name -> the destination service names its instances name."""
    natives: set[str] = field(default_factory=set)
    version: int = 0
    attached: dict[str, str] = field(default_factory=dict)
    """Address -> gateway name, as attached to the network."""

    def sync(self, store: Store) -> bool:
        """Read what the catalog changed since last time; True when the mesh moved."""
        catalog = store.catalog
        changed = catalog.changed_since(self.cursor)
        self.cursor = catalog.change_position
        moved = False
        for name in sorted(set(changed)):
            gateway = native = False
            destinations: set[str] = set()
            for _, svc in catalog.instances("", name):
                if svc.kind == MESH_GATEWAY:
                    gateway = True
                elif svc.kind == CONNECT_PROXY:
                    dest = svc.proxy.get("DestinationServiceName")
                    if isinstance(dest, str) and dest:
                        destinations.add(dest)
                elif svc.kind == "" and svc.connect.get("Native") is True:
                    native = True
            was = (name in self.gateway_names, name in self.natives, self.proxies.get(name))
            if gateway or was[0]:
                moved = True  # a gateway's address or health may have changed
            _toggle(self.gateway_names, name, gateway)
            _toggle(self.natives, name, native)
            if destinations:
                self.proxies[name] = frozenset(destinations)
            else:
                self.proxies.pop(name, None)
            if (native, self.proxies.get(name)) != (was[1], was[2]) or destinations:
                moved = True
        if moved:
            self.version += 1
        return moved

    def gateways(self, store: Store) -> list[tuple[NodeRow, NodeService]]:
        """Every local mesh-gateway instance, by node then service ID (``ServiceDump``)."""
        out = [
            (row, svc)
            for name in self.gateway_names
            for row, svc in store.catalog.instances("", name)
            if svc.kind == MESH_GATEWAY
        ]
        out.sort(key=lambda pair: (pair[0].node.node, pair[1].id))
        return out

    def connect_enabled(self, name: str) -> bool:
        """Consul's ``ServiceKindConnectEnabled`` names: a connect-proxy names it as its
        destination, or an instance of it is Connect native."""
        return name in self.natives or any(name in dests for dests in self.proxies.values())

    def attach(self, store: Store, network: Network, cluster: str, owner: str) -> None:
        """Put every local gateway on the network at its LAN and WAN addresses, as
        ``<cluster>/<gateway service ID>``, and take away the ones that left."""
        wanted: dict[str, str] = {}
        for row, svc in self.gateways(store):
            name = f"{cluster}/{svc.id}"
            for wan in (False, True):
                wanted.setdefault(best_address(row.node, svc, wan=wan), name)
        for address in sorted(set(self.attached) - set(wanted)):
            network.detach_gateway(address)
            del self.attached[address]
        for address, name in sorted(wanted.items()):
            if self.attached.get(address) != name and network.attach_gateway(address, name, owner):
                self.attached[address] = name


def _toggle(names: set[str], name: str, present: bool) -> None:
    if present:
        names.add(name)
    else:
        names.discard(name)


# -- addresses -------------------------------------------------------------------------------------
def local_server_addresses(store: Store, index: MeshIndex, own: str) -> list[str]:
    """What this cluster advertises for peers to dial (``GetLocalServerAddresses``): its
    gateways' WAN addresses when it peers through mesh gateways, else its own server address.
    Raises Consul's error when it should use gateways and has none."""
    if not peer_through_mesh_gateways(store):
        return [own]
    addresses = [best_address(row.node, svc, wan=True) for row, svc in index.gateways(store)]
    if not addresses:
        raise no_gateways()
    return addresses


def no_gateways() -> RPCError:
    return unknown(NO_GATEWAYS)


def addresses_to_dial(record: Peering) -> list[str]:
    """``Peering.GetAddressesToDial``: manual addresses take precedence, exclusively."""
    return list(record.manual_server_addresses or record.peer_server_addresses)


@dataclass(frozen=True)
class DialRoute:
    """One attempt of a dialer: ``address`` is what it dials (a local gateway's LAN address,
    or the peer's), ``target`` the peer address the traffic is for, ``via`` the gateways it
    goes through first."""

    address: str
    target: str
    via: tuple[str, ...] = ()


def dial_routes(
    store: Store, index: MeshIndex, record: Peering, cluster: str
) -> tuple[list[DialRoute], int]:
    """Consul's ``GetDialAddresses``: through each local gateway first when peering through
    mesh gateways, then the peer's addresses directly. Also returns how many of the routes go
    through gateways (the exchange tries those exclusively first)."""
    targets = addresses_to_dial(record)
    direct = [DialRoute(t, t) for t in targets]
    if not peer_through_mesh_gateways(store):
        return direct, 0
    routed = [
        DialRoute(best_address(row.node, svc, wan=False), t, (f"{cluster}/{svc.id}",))
        for row, svc in index.gateways(store)
        for t in targets
    ]
    return routed + direct, len(routed)


# -- synthetic sidecars ----------------------------------------------------------------------------
def spiffe_service(trust_domain: str, datacenter: str, name: str) -> str:
    """``connect.SpiffeIDService`` in CE's default partition and namespace."""
    return f"spiffe://{trust_domain}/ns/default/dc/{datacenter}/svc/{name}"


def spiffe_mesh_gateway(trust_domain: str, datacenter: str) -> str:
    """``connect.SpiffeIDMeshGateway`` (CE: ``/gateway/mesh/dc/<dc>``)."""
    return f"spiffe://{trust_domain}/gateway/mesh/dc/{datacenter}"


def peered_sni(name: str, peer: str, trust_domain: str) -> str:
    """``connect.PeeredServiceSNI``: ``<svc>.<ns>.<partition>.<peer>.external.<td>``, where
    ``peer`` is the exporter's own name for the peering."""
    return f"{name}.default.default.{peer}.external.{trust_domain}"


@dataclass(frozen=True)
class MeshIdentity:
    """What the exporter signs its synthetic sidecars with."""

    peer: str
    """The exporter's local name for the peering (it goes into the SNI)."""
    datacenter: str
    trust_domain: str


NOTHING = ExportedServicePayload(())


def synthetic_name(name: str) -> str:
    return name + SIDECAR_SUFFIX


def synthetic_sidecars(
    store: Store,
    gateways: list[tuple[NodeRow, NodeService]],
    name: str,
    who: MeshIdentity,
) -> ExportedServicePayload:
    """``createDiscoChainHealth``: one connect-proxy per mesh gateway, standing at it."""
    protocol = protocol_for(store, name)
    main = spiffe_service(who.trust_domain, who.datacenter, name)
    peer_meta = {
        "SNI": [peered_sni(name, who.peer, who.trust_domain)],
        # The gateway's ID always, so an L4/L7 protocol change does not break the mesh.
        "SpiffeID": [main, spiffe_mesh_gateway(who.trust_domain, who.datacenter)],
        "Protocol": protocol,
    }
    proxy_name = synthetic_name(name)
    out: list[ExportedInstance] = []
    for i, (row, gw) in enumerate(gateways):
        proxy_id, destination_id = proxy_name, name
        if gw.id:
            # Only matters with several gateways on one node, but Consul always does it.
            proxy_id, destination_id = f"{proxy_name}-instance-{i}", f"{name}-instance-{i}"
        node = row.node.model_copy(update={"create_index": 0, "modify_index": 0})
        tagged = {k: v for k, v in gw.tagged_addresses.items() if k != VIRTUAL_TAGGED_ADDRESS}
        service = NodeService(
            kind=CONNECT_PROXY,
            id=proxy_id,
            service=proxy_name,
            address=gw.address,
            tagged_addresses=tagged,
            port=gw.port,
            socket_path=gw.socket_path,
            weights=gw.weights,
            proxy={"DestinationServiceName": name, "DestinationServiceID": destination_id},
            connect={"PeerMeta": peer_meta},
        )
        checks = row.service_checks("") + row.service_checks(gw.id)
        flattened = flatten_checks(node.node, proxy_id, proxy_name, [], checks)
        out.append(ExportedInstance(node, service, flattened))
    return ExportedServicePayload(tuple(out))


@dataclass
class MeshExport:
    """One stream end's synthetic sidecars and advertised server addresses: what it last
    sent, and the mesh version and config index it was computed at."""

    version: int = -1
    config_index: int = -1
    exported_key: tuple[str, ...] = ()
    """The exported names (the list last sent) the synthetic set was computed for."""
    sent: dict[str, ExportedServicePayload] = field(default_factory=dict)
    """Synthetic name -> the payload last sent (names never sent, or withdrawn, are absent)."""
    unsure: set[str] = field(default_factory=set)
    """Synthetic names whose last send went un-ACKed: sent again whatever they hold."""
    addresses_sent: tuple[str, ...] | None = None

    def stale(self, index: MeshIndex, config_index: int, exported: tuple[str, ...]) -> bool:
        return (
            index.version != self.version
            or config_index != self.config_index
            or (exported is not self.exported_key and exported != self.exported_key)
        )

    def resend(self, resource_id: str) -> bool:
        """A send of ``resource_id`` went un-ACKed: send it again on the next push. False
        when it is not one of this end's mesh resources."""
        if resource_id == SERVER_ADDRESSES_ID:
            self.addresses_sent = None
        elif resource_id.endswith(SIDECAR_SUFFIX):
            self.sent.pop(resource_id, None)
            self.unsure.add(resource_id)
        else:
            return False
        self.version = -1
        return True

    def address_update(self, store: Store, index: MeshIndex, own: str) -> tuple[str, ...] | None:
        """The acceptor's addresses when they differ from what was last sent. With gateways
        required and none registered, nothing is sent (Consul's watch errors and retries)."""
        try:
            addresses = tuple(local_server_addresses(store, index, own))
        except RPCError:
            return None
        if addresses == self.addresses_sent:
            return None
        self.addresses_sent = addresses
        return addresses

    def sidecar_updates(
        self,
        store: Store,
        index: MeshIndex,
        config_index: int,
        exported: tuple[str, ...],
        who: MeshIdentity,
    ) -> list[tuple[str, ExportedServicePayload]]:
        """The synthetic services whose payload differs from what was last sent, by name."""
        self.version, self.config_index = index.version, config_index
        self.exported_key = exported
        gateways = index.gateways(store)
        wanted: dict[str, ExportedServicePayload] = {}
        if gateways:
            for name in sorted(exported):
                if index.connect_enabled(name):
                    wanted[synthetic_name(name)] = synthetic_sidecars(store, gateways, name, who)
        updates: list[tuple[str, ExportedServicePayload]] = []
        for proxy_name in sorted(set(wanted) | set(self.sent) | self.unsure):
            payload = wanted.get(proxy_name, NOTHING)
            if proxy_name in self.unsure or self.sent.get(proxy_name, NOTHING) != payload:
                updates.append((proxy_name, payload))
            self.unsure.discard(proxy_name)
            if payload.nodes:
                self.sent[proxy_name] = payload
            else:
                self.sent.pop(proxy_name, None)
        return updates
