"""The ports a dev-mode Consul agent listens on, in one place.

Consul's defaults (``agent/config/default.go``): server RPC 8300, Serf LAN/WAN 8301/8302, HTTP
8500, gRPC 8502 and gRPC-TLS 8503, DNS 8600. The world advertises them in the catalog and the
agent endpoints report them in ``/v1/agent/self`` and ``/v1/agent/members``, so both read them
from this leaf rather than each keeping a copy.
"""

from __future__ import annotations

SERVER_RPC_PORT = 8300
SERF_LAN_PORT = 8301
SERF_WAN_PORT = 8302
HTTP_PORT = 8500
GRPC_PORT = 8502
GRPC_TLS_PORT = 8503
DNS_PORT = 8600
