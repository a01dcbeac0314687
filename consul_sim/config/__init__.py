"""Config entries: Consul's ``exported-services``, ``service-intentions``, ``mesh``,
``service-defaults`` and ``proxy-defaults``, decoded, validated and stored the way Consul does.

Layers: :mod:`consul_sim.models.config_entries` (the models) <- :mod:`.decode` (Consul's
mapstructure rules) and :mod:`.hcl` (the one python-hcl2 import) <- :mod:`.validate` (Normalize
+ Validate) <- :mod:`.service` (write/read/list/delete on a cluster's store).
"""

from consul_sim.config.service import ConfigEntries
from consul_sim.models.config_entries import (
    ConfigEntry,
    ExportedServicesConfigEntry,
    MeshConfigEntry,
    ProxyDefaultsConfigEntry,
    ServiceDefaultsConfigEntry,
    ServiceIntentionsConfigEntry,
)

__all__ = [
    "ConfigEntries",
    "ConfigEntry",
    "ExportedServicesConfigEntry",
    "MeshConfigEntry",
    "ProxyDefaultsConfigEntry",
    "ServiceDefaultsConfigEntry",
    "ServiceIntentionsConfigEntry",
]
