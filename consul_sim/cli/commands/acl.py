"""``consul acl``: bootstrap, and ``token``, ``policy`` and ``role`` create/read/update/delete/list.

Flags, messages and output follow ``command/acl/``: IDs may be given as a unique prefix
(``GetTokenAccessorIDFromPartial``, ``GetPolicyIDFromPartial``, ``GetRoleIDFromPartial``;
``anonymous`` and ``global-management`` are names for the builtin token and policy), rules may
be ``@FILE`` or ``-`` for stdin, ``-service-identity`` is ``NAME[:DC1,DC2]`` and
``-node-identity`` ``NAME:DC``. Updates start from the object as it is and replace only what a
flag names (``-no-merge`` starts from nothing). Output is Consul's pretty printer or, with
``-format=json``, the object as JSON.
"""

from __future__ import annotations

from typing import Any

from consul_sim.cli import aclformat
from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.flags import AppendSlice, FlagSet
from consul_sim.cli.http import APIClient, APICommand, APIError

ANONYMOUS_ID = "00000000-0000-0000-0000-000000000002"
GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"

group("acl", "Interact with Consul's ACLs", """
Usage: consul-sim acl <subcommand> [options] [args]

  Bootstrap the ACL system and manage its tokens, policies and roles:

      $ consul-sim acl bootstrap
      $ consul-sim acl policy create -name web -rules 'service "web" { policy = "write" }'
      $ consul-sim acl token create -description web -policy-name web
      $ consul-sim acl token list

  Each subcommand documents its own options; add -h to see them.
""")  # fmt: skip
for _name, _what in (("token", "tokens"), ("policy", "policies"), ("role", "roles")):
    group(f"acl {_name}", f"Manage Consul's ACL {_what}", f"""
Usage: consul-sim acl {_name} <subcommand> [options] [args]

  Create, read, update, delete and list ACL {_what}.
""")  # fmt: skip


class ACLCommand(APICommand[Any]):
    """-format and -meta, the request helpers, and Consul's printer."""

    def define_flags(self, fs: FlagSet) -> None:
        self.format = fs.string("format", aclformat.PRETTY, "Output format {pretty|json}")
        self.meta = fs.boolean(
            "meta", False, "Indicates that ACL metadata such as the raft indices should be shown"
        )
        self.define_acl_flags(fs)

    def define_acl_flags(self, fs: FlagSet) -> None:
        """The command's own flags."""

    def prepare(self, rest: list[str]) -> Any:
        if rest:
            raise CommandError(f"Too many arguments (expected 0, got {len(rest)})")
        if self.format.value not in aclformat.FORMATS:
            raise CommandError(f"Unknown format: {self.format.value}")
        return self.check()

    def check(self) -> Any:
        """Consul's flag checks, before any request."""
        return None

    def send(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        response = APIClient.request(self.client, method, path, params=params, json_body=body)
        self.client.require_ok(response)
        return response.json()

    def call(self, client: APIClient, job: Any) -> int:
        self.client = client
        try:
            return self.act(job)
        except APIError as exc:
            raise CommandError(f"{self.failure(job)}: {exc}") from None

    def act(self, job: Any) -> int:
        raise NotImplementedError

    def failure(self, job: Any) -> str:
        raise NotImplementedError

    def show(self, obj: Any, pretty: str) -> int:
        """Print the answer; Consul prints nothing when the formatted output is empty."""
        out = aclformat.as_json(obj) if self.format.value == aclformat.JSON else pretty
        if out:
            self.ui.info(out)
        return 0

    def partial(self, given: str, listing: str, key: str, what: str) -> str:
        """``Get<What>IDFromPartial`` (``command/acl/acl_helpers.go``): a full ID as given,
        else the one ID in ``listing`` with that prefix, dashes ignored. Failing is ``Error
        determining <what> ID: ...``."""
        if len(given) == 36:
            return given
        prefix = given.replace("-", "")
        try:
            listed = self.send("GET", listing)
        except APIError as exc:
            raise CommandError(f"Error determining {what} ID: {exc}") from None
        found = [o[key] for o in listed if o[key].replace("-", "").startswith(prefix)]
        if len(found) > 1:
            raise CommandError(f"Error determining {what} ID: Partial {what} ID is not unique")
        if not found:
            raise CommandError(
                f"Error determining {what} ID: No such {what} ID with prefix: {prefix}"
            )
        return str(found[0])


def _links(ids: list[str], names: list[str]) -> list[dict[str, str]]:
    return [{"ID": i} for i in ids] + [{"Name": n} for n in names]


def _service_identities(specs: list[str]) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        name, _, dcs = spec.partition(":")
        if not name:
            raise CommandError(f"Malformed -service-identity argument: {spec!r}")
        out.append({"ServiceName": name, "Datacenters": [d for d in dcs.split(",") if d]})
    return out


def _node_identities(specs: list[str]) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        name, sep, dc = spec.partition(":")
        if not (name and sep and dc):
            raise CommandError(f"Malformed -node-identity argument: {spec!r}")
        out.append({"NodeName": name, "Datacenter": dc})
    return out


def _templated(name: str, variables: list[str]) -> dict[str, Any]:
    """``acl.ExtractTemplatedPolicies``: ``-var name:VALUE`` fills the template's variables."""
    out: dict[str, Any] = {"TemplateName": name}
    for spec in variables:
        key, sep, value = spec.partition(":")
        if not sep or key != "name":
            raise CommandError(f"Failed to parse templated policy variables: {spec!r}")
        out["TemplateVariables"] = {"name": value}
    return out


def upsert_services(services: list[dict[str, Any]], specs: list[str]) -> list[dict[str, Any]]:
    """Merging ``-service-identity`` values into a token's or role's: one of the same name is
    replaced in place, a new one appended (``command/acl/token/update``, ``role/update``)."""
    for new in _service_identities(specs):
        at = [i for i, s in enumerate(services) if s["ServiceName"] == new["ServiceName"]]
        if at:
            services[at[0]] = new
        else:
            services.append(new)
    return services


class Grants:
    """-policy-id/-policy-name/-role-id/-role-name/-service-identity/-node-identity."""

    def define_grants(self, fs: FlagSet, *, roles: bool) -> None:
        self.policy_ids = fs.var(AppendSlice(), "policy-id", "ID of a policy to use. May be "
                                 "specified multiple times.")  # fmt: skip
        self.policy_names = fs.var(AppendSlice(), "policy-name", "Name of a policy to use. "
                                   "May be specified multiple times.")  # fmt: skip
        self.roles = roles
        if roles:
            self.role_ids = fs.var(AppendSlice(), "role-id", "ID of a role to use. May be "
                                   "specified multiple times.")  # fmt: skip
            self.role_names = fs.var(AppendSlice(), "role-name", "Name of a role to use. May be "
                                     "specified multiple times.")  # fmt: skip
        self.service_ids = fs.var(AppendSlice(), "service-identity", "Name of a service "
                                  "identity to use, NAME[:DC1,DC2,...]. May be specified "
                                  "multiple times.")  # fmt: skip
        self.node_ids = fs.var(AppendSlice(), "node-identity", "Name of a node identity to use, "
                               "NAME:DATACENTER. May be specified multiple times.")  # fmt: skip
        self.templated = fs.string("templated-policy", "", "The templated policy name. Use "
                                   "-var flag to specify variables when required.")  # fmt: skip
        self.vars = fs.var(AppendSlice(), "var", "Templated policy variables. Must be used in "
                           "combination with -templated-policy flag to specify required "
                           "variables. May be specified multiple times with different "
                           "variables. Format is VariableName:Value")  # fmt: skip

    def grants(self, into: dict[str, Any]) -> dict[str, Any]:
        """The flags given, replacing what ``into`` had for each kind named."""
        if self.policy_ids.value or self.policy_names.value:
            into["Policies"] = _links(self.policy_ids.value, self.policy_names.value)
        if self.roles and (self.role_ids.value or self.role_names.value):
            into["Roles"] = _links(self.role_ids.value, self.role_names.value)
        if self.service_ids.value:
            into["ServiceIdentities"] = _service_identities(self.service_ids.value)
        if self.node_ids.value:
            into["NodeIdentities"] = _node_identities(self.node_ids.value)
        if self.templated.value:
            into["TemplatedPolicies"] = [_templated(self.templated.value, self.vars.value)]
        return into


@register("acl bootstrap")
class Bootstrap(ACLCommand):
    synopsis = "Bootstrap Consul's ACL system"
    usage_text = """
Usage: consul-sim acl bootstrap [options]

  The bootstrap command will request Consul to generate a new token with
  unlimited privileges to use for management purposes and output its details.
  This can only be done once and afterwards bootstrapping will be disabled.
  If all tokens are lost and you need to bootstrap again you can follow the
  bootstrap reset procedure.
"""

    def act(self, job: Any) -> int:
        token = self.send("PUT", "/v1/acl/bootstrap")
        token.pop("ID", None)  # api.ACLToken has no ID field
        pretty = aclformat.token(token, meta=self.meta.value)
        return self.show(aclformat.api_token(token), pretty)

    def failure(self, job: Any) -> str:
        return "Failed ACL bootstrapping"


# -- tokens -------------------------------------------------------------------------------------
class _TokenCommand(ACLCommand):
    target = ""
    """The token's full AccessorID once resolved, for error messages."""

    def accessor_flag(self, fs: FlagSet, what: str) -> None:
        self.accessor = fs.string("accessor-id", "", f"The Accessor ID of the token to {what}. "
                                  "It may be specified as a unique ID prefix but will error if "
                                  "the prefix matches multiple token Accessor IDs")  # fmt: skip
        self.old_id = fs.string("id", "", "DEPRECATED. Use -accessor-id instead.")

    def accessor_id(self) -> str:
        """The token named by -accessor-id, or by the deprecated -id with Consul's warning."""
        given = self.accessor.value
        if not given:
            given = self.old_id.value
            self.ui.warn("Use the -accessor-id parameter to specify token by Accessor ID")
        self.target = ANONYMOUS_ID if given == "anonymous" else given
        self.target = self.partial(self.target, "/v1/acl/tokens", "AccessorID", "token")
        return self.target

    def print_token(self, token: dict[str, Any]) -> int:
        pretty = aclformat.token(token, meta=self.meta.value)
        return self.show(aclformat.api_token(token), pretty)


@register("acl token create")
class TokenCreate(_TokenCommand, Grants):
    synopsis = "Create an ACL token"
    usage_text = """
Usage: consul-sim acl token create [options]

  When creating a new token policies may be linked using either the -policy-id
  or the -policy-name options. When specifying policies by IDs you may use a
  unique prefix of the UUID as a shortcut for specifying the entire UUID.

      $ consul-sim acl token create -description "Replication token" \\
                                    -policy-id b52fc3de-5 -policy-name "acl-replication" \\
                                    -service-identity "web" -node-identity "node1:dc1"
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.accessor = fs.string(
            "accessor",
            "",
            "Create the token with this Accessor ID. It must be a UUID. If not specified one "
            "will be auto-generated",
        )
        self.secret = fs.string("secret", "", "Create the token with this Secret ID. It must be "
                                "a UUID. If not specified one will be auto-generated")  # fmt: skip
        self.description = fs.string("description", "", "A description of the token")
        self.local = fs.boolean("local", False, "Create this as a datacenter local token")
        self.ttl = fs.duration("expires-ttl", 0.0, "Duration of time this token should be valid "
                               "for")  # fmt: skip
        self.define_grants(fs, roles=True)

    def check(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Description": self.description.value, "Local": self.local.value}
        if self.accessor.value:
            body["AccessorID"] = self.accessor.value
        if self.secret.value:
            body["SecretID"] = self.secret.value
        if self.ttl.value:
            body["ExpirationTTL"] = f"{self.ttl.value}s"
        return self.grants(body)

    def act(self, body: dict[str, Any]) -> int:
        return self.print_token(self.send("PUT", "/v1/acl/token", body))

    def failure(self, job: Any) -> str:
        return "Failed to create new token"


@register("acl token read")
class TokenRead(_TokenCommand):
    synopsis = "Read an ACL token"
    usage_text = """
Usage: consul-sim acl token read [options] -accessor-id TOKENID

  This command will retrieve and print out the details of a single token.

      $ consul-sim acl token read -accessor-id fdabbcb5-9de5-4b1a-961f-77214ae88cba
      $ consul-sim acl token read -self
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.accessor_flag(fs, "read")
        self.self_flag = fs.boolean("self", False, "Indicates that the current HTTP token "
                                    "should be read by secret ID instead of expecting a -id "
                                    "option")  # fmt: skip
        self.expanded = fs.boolean("expanded", False, "Indicates that the contents of the "
                                   "policies and roles affecting the token should also be "
                                   "shown.")  # fmt: skip

    def check(self) -> None:
        if not (self.accessor.value or self.old_id.value or self.self_flag.value):
            raise CommandError("Must specify the -accessor-id parameter")

    def act(self, job: Any) -> int:
        if self.self_flag.value:
            token = self.send("GET", "/v1/acl/token/self")
            if not self.expanded.value:
                return self.print_token(token)
            accessor = token["AccessorID"]
        elif not self.expanded.value:
            return self.print_token(self.send("GET", f"/v1/acl/token/{self.accessor_id()}"))
        else:
            accessor = self.accessor_id()
        token = self.send("GET", f"/v1/acl/token/{accessor}", expanded="true")
        pretty = aclformat.token_expanded(token, meta=self.meta.value)
        return self.show(aclformat.api_token(token), pretty)

    def failure(self, job: Any) -> str:
        if self.self_flag.value:
            return "Error reading token"
        return f'Error reading token "{self.target}"'


_APPEND_FLAGS = {
    "policy-id": "ID of a policy to add to this token. The token retains existing policies. "
    "May be specified multiple times",
    "policy-name": "Name of a policy to add to this token. The token retains existing "
    "policies. May be specified multiple times",
    "role-id": "ID of a role to add to this token. The token retains existing roles. May be "
    "specified multiple times",
    "role-name": "Name of a role to add to this token. The token retains existing roles. May "
    "be specified multiple times",
    "service-identity": "Name of a service identity to use for this token. This token retains "
    "existing service identities. May be specified multiple times. Format is the SERVICENAME "
    "or SERVICENAME:DATACENTER1,DATACENTER2,...",
    "node-identity": "Name of a node identity to use for this token. This token retains "
    "existing node identities. May be specified multiple times. Format is NODENAME:DATACENTER",
    "templated-policy": "The templated policy name to add to this token. The token retains "
    "existing templated policies. Use -var flag to specify variables when required.",
}
_MERGE_FLAGS = {
    "policies": "-append-policy-id or -append-policy-name",
    "roles": "-append-role-id or -append-role-name",
    "service-identities": "-append-service-identity",
    "node-identities": "-append-node-identity",
}
_IDENTITY_CONFLICT = (
    "Cannot combine the use of {kind}-identity flag with append-{kind}-identity. To set or "
    "overwrite existing {kind} identities, use -{kind}-identity. To append to existing {kind} "
    "identities, use -append-{kind}-identity."
)


@register("acl token update")
class TokenUpdate(_TokenCommand, Grants):
    synopsis = "Update an ACL token"
    usage_text = """
Usage: consul-sim acl token update [options]

  This command will update a token. Some parts such as marking the token local
  cannot be changed. Each of -policy-*, -role-*, -service-identity and
  -node-identity replaces that part of the token; what no flag names is kept.

      $ consul-sim acl token update -accessor-id abcd -description "replication" \\
                                    -policy-name "token-replication"
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.accessor_flag(fs, "update")
        self.description = fs.string("description", "", "A description of the token")
        self.define_grants(fs, roles=True)
        self.appends = {
            flag: fs.var(AppendSlice(), f"append-{flag}", help_text)
            for flag, help_text in _APPEND_FLAGS.items()
        }
        self.merges = {
            kind: fs.boolean(f"merge-{kind}", False, f"DEPRECATED. Use {instead} instead.")
            for kind, instead in _MERGE_FLAGS.items()
        }

    def check(self) -> None:
        if not (self.accessor.value or self.old_id.value):
            raise CommandError("Cannot update a token without specifying the -accessor-id "
                               "parameter")  # fmt: skip

    def act(self, job: Any) -> int:
        accessor = self.accessor_id()
        token = self.send("GET", f"/v1/acl/token/{accessor}")
        if self.flags.is_set("description"):
            token["Description"] = self.description.value
        self.conflicts()
        self.merge_links(token)
        self.grants(token)
        self.append_grants(token)
        return self.print_token(self.send("PUT", f"/v1/acl/token/{accessor}", token))

    def conflicts(self) -> None:
        """A replacing flag and its ``append-`` twin together is Consul's error."""
        a = {flag: bool(v.value) for flag, v in self.appends.items()}
        pairs = (
            (self.policy_ids.value or self.policy_names.value,
             a["policy-id"] or a["policy-name"], "policy-id/policy-name flags", "policies",
             "-policy-id or -policy-name", "-append-policy-id or -append-policy-name"),
            (self.role_ids.value or self.role_names.value, a["role-id"] or a["role-name"],
             "role-id/role-name flags", "roles", "-role-id or -role-name",
             "-append-role-id or -append-role-name"),
        )  # fmt: skip
        if self.service_ids.value and a["service-identity"]:
            raise CommandError(_IDENTITY_CONFLICT.format(kind="service"))
        if self.node_ids.value and a["node-identity"]:
            raise CommandError(_IDENTITY_CONFLICT.format(kind="node"))
        for plain, appended, what, things, set_with, append_with in pairs:
            if plain and appended and not self.merges[things].value:
                raise CommandError(
                    f"Cannot combine the use of {what} with append- variants. To set or "
                    f"overwrite existing {things}, use {set_with}. To append to existing "
                    f"{things}, use {append_with}."
                )
        if self.templated.value and a["templated-policy"]:
            raise CommandError(
                "Cannot combine the use of templated-policy flag with append-templated-policy. "
                "To set or overwrite existing templated policies, use -templated-policy. To "
                "append to existing templated policies, use -append-templated-policy."
            )

    def merge_links(self, token: dict[str, Any]) -> None:
        """The deprecated ``-merge-*`` flags: the replacing flags' values join what the token
        has (skipping links already there) instead of replacing it, with Consul's warning."""
        kinds = (
            ("policies", "Policies", self.policy_ids, self.policy_names, "policy"),
            ("roles", "Roles", self.role_ids, self.role_names, "role"),
        )
        for kind, key, ids, names, flag in kinds:
            if not self.merges[kind].value:
                continue
            self.ui.warn(
                f"merge-{kind} is deprecated and will be removed in a future Consul version. "
                f"Use `append-{flag}-name` or `append-{flag}-id` instead."
            )
            have = token.get(key) or []
            extra = [{"Name": n} for n in names.value if all(h.get("Name") != n for h in have)]
            extra += [{"ID": i} for i in ids.value if all(h.get("ID") != i for h in have)]
            token[key] = have + extra
            ids.value, names.value = [], []
        for kind, plain in (("service-identities", self.service_ids),
                            ("node-identities", self.node_ids)):  # fmt: skip
            if self.merges[kind].value:
                self.appends[kind.replace("identities", "identity")].value += plain.value
                plain.value = []

    def append_grants(self, token: dict[str, Any]) -> None:
        """The ``append-`` flags: links and identities join what the token has
        (``command/acl/token/update/token_update.go``): a service identity replaces the one of
        the same name, a node identity or templated policy already there is not repeated."""
        a = {flag: v.value for flag, v in self.appends.items()}
        if a["policy-id"] or a["policy-name"]:
            token["Policies"] = (token.get("Policies") or []) + _links(
                a["policy-id"], a["policy-name"]
            )
        if a["role-id"] or a["role-name"]:
            token["Roles"] = (token.get("Roles") or []) + _links(a["role-id"], a["role-name"])
        services = upsert_services(token.get("ServiceIdentities") or [], a["service-identity"])
        if services:
            token["ServiceIdentities"] = services
        nodes = token.get("NodeIdentities") or []
        nodes += [n for n in _node_identities(a["node-identity"]) if n not in nodes]
        if nodes:
            token["NodeIdentities"] = nodes
        for name in a["templated-policy"]:
            templated = token.get("TemplatedPolicies") or []
            new_t = _templated(name, self.vars.value)
            if new_t not in templated:
                token["TemplatedPolicies"] = [*templated, new_t]

    def failure(self, job: Any) -> str:
        return f"Failed to update token {self.target}"


@register("acl token delete")
class TokenDelete(_TokenCommand):
    synopsis = "Delete an ACL token"
    usage_text = """
Usage: consul-sim acl token delete [options] -accessor-id TOKEN

  Deletes an ACL token by providing either the ID or a unique ID prefix.

      $ consul-sim acl token delete -accessor-id b6b85
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.accessor_flag(fs, "delete")

    def check(self) -> None:
        if not (self.accessor.value or self.old_id.value):
            raise CommandError("Must specify the -accessor-id parameter")

    def act(self, job: Any) -> int:
        accessor = self.accessor_id()
        self.send("DELETE", f"/v1/acl/token/{accessor}")
        self.ui.info(f'Token "{accessor}" deleted successfully')
        return 0

    def failure(self, job: Any) -> str:
        return f'Error deleting token "{self.target}"'


@register("acl token clone")
class TokenClone(_TokenCommand):
    synopsis = "Clone an ACL token"
    usage_text = """
Usage: consul-sim acl token clone [options]

  This command will clone a token. When cloning an alternate description may be
  given for use with the new token.

      $ consul-sim acl token clone -accessor-id abcd -description "replication"
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.accessor_flag(fs, "clone")
        self.description = fs.string("description", "", "A description of the new cloned token")

    def check(self) -> None:
        if not (self.accessor.value or self.old_id.value):
            raise CommandError("Cannot clone a token without specifying the -accessor-id "
                               "parameter")  # fmt: skip

    def act(self, job: Any) -> int:
        accessor = self.accessor_id()
        body = {"Description": self.description.value}
        return self.print_token(self.send("PUT", f"/v1/acl/token/{accessor}/clone", body))

    def failure(self, job: Any) -> str:
        return "Failed to clone token"


@register("acl token list")
class TokenList(_TokenCommand):
    synopsis = "List ACL tokens"
    usage_text = """
Usage: consul-sim acl token list [options]

  Lists all the ACL tokens.

      $ consul-sim acl token list
"""

    def act(self, job: Any) -> int:
        tokens = self.send("GET", "/v1/acl/tokens")
        pretty = aclformat.token_list(tokens, meta=self.meta.value)
        return self.show([aclformat.api_token(t) for t in tokens], pretty)

    def failure(self, job: Any) -> str:
        return "Failed to retrieve the token list"
