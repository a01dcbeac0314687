"""Builtin policies, and the synthetic policies identities and templated policies stand for.

``agent/structs/acl.go``: the global-management (``...0001``) and global-read-only (``...0002``)
builtin policies with their rules; a service identity's or node identity's synthetic policy
(``SyntheticPolicy``, rules from ``acl_ce.go``); ``agent/structs/acl_templated_policy.go``: the
builtin templated policies Consul CE ships (``builtin/service``, ``builtin/node``, ``builtin/dns``,
``builtin/nomad-server``, ``builtin/api-gateway``, ``builtin/nomad-client``; ID ...0007, once
``builtin/workload-identity``, is retired), each rendered with its ``Name`` variable into a
synthetic policy described ``synthetic policy generated from templated policy: <name>``.

A synthetic policy's ID is what Go's ``fnv.New128a().Sum([]byte(rules))`` gives: ``Sum``
*appends* the hash of nothing written (FNV-1a's offset basis) to the rules' bytes, so the ID is
the rules in hex followed by that constant.
"""

from __future__ import annotations

from dataclasses import dataclass

GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
GLOBAL_MANAGEMENT_NAME = "global-management"
GLOBAL_MANAGEMENT_DESC = "Builtin Policy that grants unlimited access"
GLOBAL_READ_ONLY_ID = "00000000-0000-0000-0000-000000000002"
GLOBAL_READ_ONLY_NAME = "builtin/global-read-only"
GLOBAL_READ_ONLY_DESC = "Builtin Policy that grants unlimited read-only access to all components"
RESERVED_PREFIX = "00000000-0000-0000-0000-0000000000"
"""``ACLReservedIDPrefix``: IDs Consul keeps for builtin objects."""


def _everything(level: str) -> str:
    return f"""
acl = "{level}"
agent_prefix "" {{
\tpolicy = "{level}"
}}
event_prefix "" {{
\tpolicy = "{level}"
}}
key_prefix "" {{
\tpolicy = "{level}"
}}
keyring = "{level}"
node_prefix "" {{
\tpolicy = "{level}"
}}
operator = "{level}"
mesh = "{level}"
peering = "{level}"
query_prefix "" {{
\tpolicy = "{level}"
}}
service_prefix "" {{
\tpolicy = "{level}"
\tintentions = "{level}"
}}
session_prefix "" {{
\tpolicy = "{level}"
}}"""


GLOBAL_MANAGEMENT_RULES = _everything("write")
GLOBAL_READ_ONLY_RULES = _everything("read")

_FNV128_OFFSET = "6c62272e07bb014262b821756295c58d"


def synthetic_id(rules: str) -> str:
    """``fmt.Sprintf("%x", fnv.New128a().Sum([]byte(rules)))``."""
    return rules.encode().hex() + _FNV128_OFFSET


def service_rules(name: str) -> str:
    """``aclServiceIdentityRules`` / the ``builtin/service`` template."""
    return f"""
service "{name}" {{
\tpolicy = "write"
}}
service "{name}-sidecar-proxy" {{
\tpolicy = "write"
}}
service_prefix "" {{
\tpolicy = "read"
}}
node_prefix "" {{
\tpolicy = "read"
}}"""


def node_rules(name: str) -> str:
    """``aclNodeIdentityRules`` / the ``builtin/node`` template."""
    return f"""
node "{name}" {{
\tpolicy = "write"
}}
service_prefix "" {{
\tpolicy = "read"
}}"""


DNS_RULES = """
node_prefix "" {
\tpolicy = "read"
}
service_prefix "" {
\tpolicy = "read"
}
query_prefix "" {
\tpolicy = "read"
}"""


_NAME_SCHEMA = (
    '{\n\t"type": "object",\n\t"properties": {\n\t\t"name": { "type": "string", "$ref": '
    '"#/definitions/min-length-one" }\n\t},\n\t"required": ["name"],\n\t"definitions": {\n'
    '\t\t"min-length-one": {\n\t\t\t\t"type": "string",\n\t\t\t\t"minLength": 1\n\t\t}\n\t}\n}'
)
"""``acltemplatedpolicy/schemas/{service,node,api-gateway}.json``, as the API docs' sample
response for ``/v1/acl/templated-policy/name/builtin/service`` shows it (tab-indented)."""

_NOMAD_SERVER = """
acl = "write"
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "write"
}"""

_NOMAD_CLIENT = """agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "read"
}"""

_API_GATEWAY = """mesh = "read"
node_prefix "" {
\tpolicy = "read"
}
service_prefix "" {
\tpolicy = "read"
}
service "{{.Name}}" {
\tpolicy = "write"
}"""


@dataclass(frozen=True)
class Template:
    """A builtin templated policy (``ACLTemplatedPolicyBase``): its template text is the
    embedded ``acltemplatedpolicy/policies/ce/<name>.hcl`` with Go's ``{{.Name}}`` placeholder."""

    name: str
    id: str
    description: str
    text: str
    schema: str = ""
    """The JSON schema its variables are checked against (empty: takes none)."""

    @property
    def needs_name(self) -> bool:
        return bool(self.schema)

    def template(self) -> str:
        """The template text, with Go's ``{{.Name}}`` placeholder."""
        return self.text

    def rules(self, name: str) -> str:
        """``text/template`` rendering: the only variable any CE template uses is ``.Name``."""
        return self.text.replace("{{.Name}}", name)


TEMPLATES = {
    t.name: t
    for t in (
        Template(
            "builtin/service",
            "00000000-0000-0000-0000-000000000003",
            "Gives the token or role permissions to register a service and discover services in "
            "the Consul catalog. It also gives the specified service's sidecar proxy the "
            "permission to discover and route traffic to other services.",
            service_rules("{{.Name}}"),
            _NAME_SCHEMA,
        ),
        Template(
            "builtin/node",
            "00000000-0000-0000-0000-000000000004",
            "Gives the token or role permissions for a register an agent/node into the catalog. "
            "A node is typically a consul agent but can also be a physical server, cloud "
            "instance or a container.",
            node_rules("{{.Name}}"),
            _NAME_SCHEMA,
        ),
        Template(
            "builtin/dns",
            "00000000-0000-0000-0000-000000000005",
            "Gives the token or role permissions for the Consul DNS to query services in the "
            "network.",
            DNS_RULES,
        ),
        Template(
            "builtin/nomad-server",
            "00000000-0000-0000-0000-000000000006",
            "Gives the token or role permissions required for integration with a nomad server.",
            _NOMAD_SERVER,
        ),
        Template(
            "builtin/api-gateway",
            "00000000-0000-0000-0000-000000000008",
            "Gives the token or role permissions for a Consul api gateway",
            _API_GATEWAY,
            _NAME_SCHEMA,
        ),
        Template(
            "builtin/nomad-client",
            "00000000-0000-0000-0000-000000000009",
            "Gives the token or role permissions required for integration with a nomad client.",
            _NOMAD_CLIENT,
        ),
    )
}
