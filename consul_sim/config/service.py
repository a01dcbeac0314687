"""Writing, reading, listing and deleting config entries on one cluster's store.

What Consul's ``ConfigEntry.Apply`` RPC does, in its order: decode, Normalize, Validate, the
checks that need other entries (L7 intentions need an HTTP protocol, permissive mTLS needs the
mesh entry's consent, every discovery chain the entry touches must still compile:
:mod:`.chain_graph`), then the no-op shortcut (an entry equal to the stored one answers true
and writes nothing, whatever ``cas`` says), then check-and-set, then the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consul_sim.config.chain_graph import GRAPH_KINDS, check_proposed
from consul_sim.config.decode import decode_entry
from consul_sim.config.gateways import IngressGatewayConfigEntry, check_listener_protocols
from consul_sim.config.hcl import parse_config
from consul_sim.config.validate import WILDCARD, normalize, validate
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.models.config_entries import (
    ENTRY_CLASSES,
    KNOWN_KINDS,
    MESH,
    MESH_NAME,
    PROXY_DEFAULTS,
    PROXY_DEFAULTS_NAME,
    SERVICE_DEFAULTS,
    ConfigEntryBase,
    MeshConfigEntry,
    ProxyDefaultsConfigEntry,
    ServiceDefaultsConfigEntry,
    ServiceIntentionsConfigEntry,
)
from consul_sim.store import Store
from consul_sim.store.config import CONFIG_ENTRIES

L7_PROTOCOLS = ("http", "http2", "grpc")
DEFAULT_PROTOCOL = "tcp"
PERMISSIVE = "permissive"


def invalid_kind(kind: str) -> str:
    return f"invalid config entry kind: {kind}"


def make_entry(kind: str, name: str) -> ConfigEntryBase | None:
    """Consul's MakeConfigEntry: an empty entry of a kind, for deletes. None for a kind Consul
    knows but the simulator does not store; BadRequest for a kind Consul does not know."""
    cls = ENTRY_CLASSES.get(kind)
    if cls is None:
        if kind in KNOWN_KINDS:
            return None
        raise BadRequest(invalid_kind(kind))
    if cls is MeshConfigEntry:
        return cls()
    return cls.model_validate({"name": name})


EntrySource = ConfigEntryBase | Mapping[str, Any] | str


class ConfigEntries:
    """The config entries of one cluster (``cluster.config``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writes -----------------------------------------------------------------------------------
    @staticmethod
    def decode(source: EntrySource) -> ConfigEntryBase:
        """An entry from a model, a JSON-shaped mapping, or HCL/JSON text."""
        if isinstance(source, ConfigEntryBase):
            return source.model_copy(deep=True)
        raw = parse_config(source) if isinstance(source, str) else dict(source)
        return decode_entry(raw)

    def write(self, source: EntrySource, *, cas: int | None = None) -> bool:
        """Write an entry; with ``cas``, only if its ModifyIndex is ``cas`` (0: only create).
        True when stored or already identical, False when the check-and-set failed."""
        return self.apply(self.decode(source), cas=cas)

    def apply(self, entry: ConfigEntryBase, *, cas: int | None = None) -> bool:
        normalize(entry)
        validate(entry)
        return self.apply_validated(entry, cas=cas)

    def apply_validated(self, entry: ConfigEntryBase, *, cas: int | None = None) -> bool:
        """The write after Normalize/Validate, for callers that ran their own (the legacy
        intention endpoints use Consul's LegacyNormalize/LegacyValidate, which keep LegacyID)."""
        table = self.store.config
        with self.store.lock:
            self._check_against_others(entry)
            existing = table.get(entry.kind, entry.entry_name)
            if existing is not None and existing.content() == entry.content():
                return True
            if cas is not None:
                if existing is None and cas != 0:
                    return False
                if existing is not None and existing.modify_index != cas:
                    return False
            with self.store.txn() as txn:
                table.put(txn, entry)
        return True

    def delete(self, kind: str, name: str, *, cas: int | None = None) -> bool:
        """Delete an entry; without ``cas`` always True. With ``cas``, True when deleted (or
        already gone), False when the entry's ModifyIndex is not ``cas``."""
        entry = make_entry(kind, name)
        if entry is None:
            return True
        normalize(entry)
        table = self.store.config
        with self.store.lock:
            existing = table.get(entry.kind, entry.entry_name)
            if existing is None:
                return True
            if cas is not None and existing.modify_index != cas:
                return False
            if entry.kind in GRAPH_KINDS:
                check_proposed(table, entry.kind, entry.entry_name, None)
            with self.store.txn() as txn:
                table.delete(txn, entry.kind, entry.entry_name)
        return True

    # -- reads ------------------------------------------------------------------------------------
    def index(self) -> int:
        """The config-entries table's index, which every config read reports."""
        return self.store.max_index([CONFIG_ENTRIES])

    def indexed_get(self, kind: str, name: str) -> tuple[int, ConfigEntryBase | None]:
        """The entry (None when absent) and the index a blocking read compares."""
        if kind not in KNOWN_KINDS:
            raise ConsulError(invalid_kind(kind))
        with self.store.lock:
            entry = self.store.config.get(kind, name)
            return self.index(), entry.model_copy(deep=True) if entry is not None else None

    def indexed_list(self, kind: str) -> tuple[int, list[ConfigEntryBase]]:
        """Entries of a kind by case-insensitive name (every kind when ``kind`` is empty),
        and the index a blocking read compares."""
        if kind and kind not in KNOWN_KINDS:
            raise ConsulError(invalid_kind(kind))
        with self.store.lock:
            entries = [e.model_copy(deep=True) for e in self.store.config.list(kind)]
            return self.index(), entries

    def read(self, kind: str, name: str) -> ConfigEntryBase | None:
        """The entry, or None when there is none."""
        return self.indexed_get(kind, name)[1]

    def list(self, kind: str) -> list[ConfigEntryBase]:
        """Entries of a kind, in Consul's case-insensitive name order."""
        return self.indexed_list(kind)[1]

    # -- checks that read other entries ------------------------------------------------------------
    def _check_against_others(self, entry: ConfigEntryBase) -> None:
        if isinstance(entry, ServiceIntentionsConfigEntry):
            self._check_intentions(entry)
        elif isinstance(entry, ServiceDefaultsConfigEntry | ProxyDefaultsConfigEntry):
            self._check_permissive_mtls(entry)
        elif isinstance(entry, IngressGatewayConfigEntry):
            check_listener_protocols(entry, self.protocol)
        if entry.kind in GRAPH_KINDS:
            check_proposed(self.store.config, entry.kind, entry.entry_name, entry)

    def protocol(self, service: str) -> str:
        """A service's protocol: service-defaults, else proxy-defaults' ``protocol``, else tcp."""
        table = self.store.config
        defaults = table.get(SERVICE_DEFAULTS, service)
        if isinstance(defaults, ServiceDefaultsConfigEntry) and defaults.protocol:
            return defaults.protocol
        proxy = table.get(PROXY_DEFAULTS, PROXY_DEFAULTS_NAME)
        if isinstance(proxy, ProxyDefaultsConfigEntry):
            configured = proxy.config.get("protocol")
            if isinstance(configured, str) and configured:
                return configured.lower()
        return DEFAULT_PROTOCOL

    def _check_intentions(self, entry: ServiceIntentionsConfigEntry) -> None:
        if entry.name != WILDCARD and any(src.permissions for src in entry.sources):
            protocol = self.protocol(entry.name)
            if protocol not in L7_PROTOCOLS:
                raise ConsulError(
                    f'service "{entry.name}" has protocol "{protocol}", which is incompatible '
                    "with L7 intentions permissions"
                )
        # No jwt-provider entries are simulated yet, so every referenced provider is missing.
        providers = [p.name for p in entry.jwt.providers] if entry.jwt else []
        for src in entry.sources:
            for perm in src.permissions:
                if perm.jwt is not None:
                    providers.extend(p.name for p in perm.jwt.providers)
        if providers:
            raise ConsulError(
                f"Referenced JWT Provider does not exist. Provider Name: {providers[0]}"
            )

    def _check_permissive_mtls(
        self, entry: ServiceDefaultsConfigEntry | ProxyDefaultsConfigEntry
    ) -> None:
        if entry.mutual_tls_mode != PERMISSIVE:
            return
        existing = self.store.config.get(entry.kind, entry.entry_name)
        if isinstance(existing, ServiceDefaultsConfigEntry | ProxyDefaultsConfigEntry):
            if existing.mutual_tls_mode == PERMISSIVE:
                return
        mesh = self.store.config.get(MESH, MESH_NAME)
        if isinstance(mesh, MeshConfigEntry) and mesh.allow_enabling_permissive_mutual_tls:
            return
        raise ConsulError(
            "cannot set MutualTLSMode=permissive because AllowEnablingPermissiveMutualTLS=false "
            "in the mesh config entry"
        )
