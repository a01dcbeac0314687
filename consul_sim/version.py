"""The Consul release consul-sim answers as (the contract is current Consul CE)."""

CONSUL_VERSION = "1.21.0"
REVISION = "consul-sim"
BUILD_DATE = "2025-06-01T00:00:00Z"
