"""Config entries: Consul's ``exported-services``, ``service-intentions``, ``mesh``,
``service-defaults`` and ``proxy-defaults``, decoded, validated and stored the way Consul does.

The discovery-chain kinds (``service-resolver``, ``-splitter``, ``-router``) live in
:mod:`.discoverychain`, the gateway kinds (``ingress-gateway``, ``terminating-gateway``) in
:mod:`.gateways`; both join the models' one kind table below; :mod:`.chain_compile` compiles them.

Layers: :mod:`consul_sim.models.config_entries` (the models) <- :mod:`.decode` (Consul's
mapstructure rules) and :mod:`.hcl` (the one python-hcl2 import) <- :mod:`.validate` (Normalize
+ Validate) <- :mod:`.service` (write/read/list/delete on a cluster's store).
"""

from consul_sim.config import discoverychain, gateways
from consul_sim.config.service import ConfigEntries
from consul_sim.models.config_entries import (
    ENTRY_CLASSES,
    ConfigEntry,
    ExportedServicesConfigEntry,
    MeshConfigEntry,
    ProxyDefaultsConfigEntry,
    ServiceDefaultsConfigEntry,
    ServiceIntentionsConfigEntry,
)

# The kinds this package adds to the models' kind table, one line each.
ENTRY_CLASSES[discoverychain.SERVICE_RESOLVER] = discoverychain.ServiceResolverConfigEntry
ENTRY_CLASSES[discoverychain.SERVICE_SPLITTER] = discoverychain.ServiceSplitterConfigEntry
ENTRY_CLASSES[discoverychain.SERVICE_ROUTER] = discoverychain.ServiceRouterConfigEntry
ENTRY_CLASSES[gateways.INGRESS_GATEWAY] = gateways.IngressGatewayConfigEntry
ENTRY_CLASSES[gateways.TERMINATING_GATEWAY] = gateways.TerminatingGatewayConfigEntry

__all__ = [
    "ConfigEntries",
    "ConfigEntry",
    "ExportedServicesConfigEntry",
    "MeshConfigEntry",
    "ProxyDefaultsConfigEntry",
    "ServiceDefaultsConfigEntry",
    "ServiceIntentionsConfigEntry",
]
