"""``consul acl policy`` and ``consul acl role``: create, read, update, delete, list.

Flags, messages and output follow ``command/acl/policy/`` and ``command/acl/role/``: ``-id`` (a
unique prefix; ``global-management`` names the builtin policy) or ``-name`` picks the object;
rules may be ``@FILE`` or ``-`` for stdin; updates merge into the current object unless
``-no-merge``. The groups and the shared machinery live in :mod:`.acl`.
"""

from __future__ import annotations

from typing import Any

from consul_sim.cli import aclformat
from consul_sim.cli.command import CommandError, register
from consul_sim.cli.commands.acl import (
    GLOBAL_MANAGEMENT_ID,
    ACLCommand,
    Grants,
    _node_identities,
    _templated,
    upsert_services,
)
from consul_sim.cli.datasource import DataSourceError, load_data_source
from consul_sim.cli.flags import AppendSlice, FlagSet


class _NamedCommand(ACLCommand):
    """A policy or role command: -id (a unique prefix) or -name picks the object."""

    kind = "policy"
    listing = "/v1/acl/policies"

    def id_flags(self, fs: FlagSet, what: str) -> None:
        self.id = fs.string("id", "", f"The ID of the {self.kind} to {what}. It may be "
                            f"specified as a unique ID prefix but will error if the prefix "
                            f"matches multiple {self.kind} IDs")  # fmt: skip
        self.name = fs.string("name", "", f"The name of the {self.kind} to {what}.")

    def need_id_or_name(self) -> None:
        if not (self.id.value or self.name.value):
            raise CommandError("Must specify either the -id or -name parameters")

    def target(self) -> str:
        return self.id.value or self.name.value

    def object_id(self) -> str:
        if self.id.value:
            if self.kind == "policy" and self.id.value == "global-management":
                return GLOBAL_MANAGEMENT_ID
            return self.partial(self.id.value, self.listing, "ID", self.kind)
        found = self.send("GET", f"/v1/acl/{self.kind}/name/{self.name.value}")
        return str(found["ID"])

    def render(self, obj: dict[str, Any]) -> int:
        formatter = aclformat.policy if self.kind == "policy" else aclformat.role
        return self.show(obj, formatter(obj, meta=self.meta.value))


class _PolicyBody(_NamedCommand):
    def body_flags(self, fs: FlagSet) -> None:
        self.description = fs.string("description", "", "A description of the policy")
        self.rules = fs.string("rules", "", "The policy rules. May be prefixed with '@' to "
                               "indicate that the value is a file path to load the rules from. "
                               "'-' may also be given to indicate that the rules are available "
                               "on stdin")  # fmt: skip
        self.dcs = fs.var(AppendSlice(), "valid-datacenter", "Datacenter that the policy should "
                          "be valid within. This flag may be specified multiple times")  # fmt: skip

    def fill(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.flags.is_set("description"):
            body["Description"] = self.description.value
        if self.flags.is_set("rules"):
            try:
                body["Rules"] = load_data_source(self.rules.value, self.ctx).decode()
            except DataSourceError as exc:
                raise CommandError(f"Error loading rules: {exc}") from None
        if self.dcs.value:
            body["Datacenters"] = list(self.dcs.value)
        return body


@register("acl policy create")
class PolicyCreate(_PolicyBody):
    synopsis = "Create an ACL policy"
    usage_text = """
Usage: consul-sim acl policy create -name NAME [options]

  Create a new policy:

      $ consul-sim acl policy create -name "new-policy" \\
                                     -description "This is an example policy" \\
                                     -rules @rules.hcl
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.name = fs.string("name", "", "The new policy's name. This flag is required.")
        self.body_flags(fs)

    def check(self) -> dict[str, Any]:
        if not self.name.value:
            raise CommandError("Missing required '-name' flag")
        return self.fill({"Name": self.name.value})

    def act(self, body: dict[str, Any]) -> int:
        return self.render(self.send("PUT", "/v1/acl/policy", body))

    def failure(self, job: Any) -> str:
        return "Failed to create new policy"


@register("acl policy read")
class PolicyRead(_NamedCommand):
    synopsis = "Read an ACL policy"
    usage_text = """
Usage: consul-sim acl policy read [options] POLICY

  This command will retrieve and print out the details of a single policy.

      $ consul-sim acl policy read -id fdabbcb5-9de5-4b1a-961f-77214ae88cba
      $ consul-sim acl policy read -name my-policy
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.id_flags(fs, "read")

    def check(self) -> None:
        self.need_id_or_name()

    def act(self, job: Any) -> int:
        if self.name.value and not self.id.value:
            return self.render(self.send("GET", f"/v1/acl/policy/name/{self.name.value}"))
        return self.render(self.send("GET", f"/v1/acl/policy/{self.object_id()}"))

    def failure(self, job: Any) -> str:
        return f'Error reading policy "{self.target()}"'


@register("acl policy update")
class PolicyUpdate(_PolicyBody):
    synopsis = "Update an ACL policy"
    usage_text = """
Usage: consul-sim acl policy update [options]

  Updates a policy. By default it will merge the policy information with its
  current state so that you do not have to provide all parameters. This
  behavior can be disabled by passing -no-merge.

      $ consul-sim acl policy update -id abcd -rules @rules.hcl
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.id = fs.string("id", "", "The ID of the policy to update. It may be specified as a "
                            "unique ID prefix but will error if the prefix matches multiple "
                            "policy IDs")  # fmt: skip
        self.name = fs.string("name", "", "The policy name.")
        self.body_flags(fs)
        self.no_merge = fs.boolean("no-merge", False, "Do not merge the current policy "
                                   "information with what is provided to the command. Instead "
                                   "overwrite all fields with the exception of the policy ID "
                                   "which is immutable.")  # fmt: skip

    def check(self) -> None:
        if not self.id.value:
            raise CommandError("Cannot update a policy without specifying the -id parameter")

    def act(self, job: Any) -> int:
        pid = self.object_id()
        body: dict[str, Any] = {"ID": pid, "Name": self.name.value}
        if not self.no_merge.value:
            body = self.send("GET", f"/v1/acl/policy/{pid}")
            if self.name.value:
                body["Name"] = self.name.value
        return self.render(self.send("PUT", f"/v1/acl/policy/{pid}", self.fill(body)))

    def failure(self, job: Any) -> str:
        return f'Error updating policy "{self.id.value}"'


class _Delete(_NamedCommand):
    def define_acl_flags(self, fs: FlagSet) -> None:
        self.id_flags(fs, "delete")

    def check(self) -> None:
        self.need_id_or_name()

    def act(self, job: Any) -> int:
        oid = self.object_id()
        self.send("DELETE", f"/v1/acl/{self.kind}/{oid}")
        self.ui.info(f'{self.kind.title()} "{oid}" deleted successfully')
        return 0

    def failure(self, job: Any) -> str:
        return f'Error deleting {self.kind} "{self.target()}"'


@register("acl policy delete")
class PolicyDelete(_Delete):
    synopsis = "Delete an ACL policy"
    usage_text = """
Usage: consul-sim acl policy delete [options] -id POLICY

  Deletes an ACL policy by providing either the ID or a unique ID prefix.

      $ consul-sim acl policy delete -id b6b85
      $ consul-sim acl policy delete -name my-policy
"""


class _List(_NamedCommand):
    def act(self, job: Any) -> int:
        found = self.send("GET", self.listing)
        formatter = aclformat.policy_list if self.kind == "policy" else aclformat.role_list
        return self.show(found, formatter(found, meta=self.meta.value))

    def failure(self, job: Any) -> str:
        plural = "policies" if self.kind == "policy" else "roles"
        return (
            f"Failed to retrieve the {self.kind} list"
            if plural == "roles"
            else ("Failed to retrieve the policy list")
        )


@register("acl policy list")
class PolicyList(_List):
    synopsis = "Lists ACL policies"
    usage_text = """
Usage: consul-sim acl policy list [options]

  Lists all the ACL policies.

      $ consul-sim acl policy list
"""


class _RoleCommand(_NamedCommand):
    kind = "role"
    listing = "/v1/acl/roles"


class _RoleBody(_RoleCommand, Grants):
    def body_flags(self, fs: FlagSet) -> None:
        self.description = fs.string("description", "", "A description of the role")
        self.define_grants(fs, roles=False)

    def fill(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.flags.is_set("description"):
            body["Description"] = self.description.value
        return self.grants(body)


@register("acl role create")
class RoleCreate(_RoleBody):
    synopsis = "Create an ACL role"
    usage_text = """
Usage: consul-sim acl role create -name NAME [options]

  Create a new role:

      $ consul-sim acl role create -name "new-role" -description "This is an example role" \\
                                   -policy-id b52fc3de-5 -policy-name "acl-replication" \\
                                   -service-identity "web" -node-identity "node1:dc1"
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.name = fs.string("name", "", "The new role's name. This flag is required.")
        self.body_flags(fs)

    def check(self) -> dict[str, Any]:
        if not self.name.value:
            raise CommandError("Missing required '-name' flag")
        return self.fill({"Name": self.name.value})

    def act(self, body: dict[str, Any]) -> int:
        return self.render(self.send("PUT", "/v1/acl/role", body))

    def failure(self, job: Any) -> str:
        return "Failed to create new role"


@register("acl role read")
class RoleRead(_RoleCommand):
    synopsis = "Read an ACL role"
    usage_text = """
Usage: consul-sim acl role read [options] ROLE

  This command will retrieve and print out the details of a single role.

      $ consul-sim acl role read -id fdabbcb5-9de5-4b1a-961f-77214ae88cba
      $ consul-sim acl role read -name my-role
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.id_flags(fs, "read")

    def check(self) -> None:
        self.need_id_or_name()

    def act(self, job: Any) -> int:
        if self.name.value and not self.id.value:
            return self.render(self.send("GET", f"/v1/acl/role/name/{self.name.value}"))
        return self.render(self.send("GET", f"/v1/acl/role/{self.object_id()}"))

    def failure(self, job: Any) -> str:
        return f'Error reading role "{self.target()}"'


@register("acl role update")
class RoleUpdate(_RoleBody):
    synopsis = "Update an ACL role"
    usage_text = """
Usage: consul-sim acl role update [options]

  Updates a role. By default it will merge the role information with its
  current state so that you do not have to provide all parameters. This
  behavior can be disabled by passing -no-merge.

      $ consul-sim acl role update -id abcd -description "replication"
"""

    def define_acl_flags(self, fs: FlagSet) -> None:
        self.id = fs.string("id", "", "The ID of the role to update. It may be specified as a "
                            "unique ID prefix but will error if the prefix matches multiple "
                            "role IDs")  # fmt: skip
        self.name = fs.string("name", "", "The role name.")
        self.body_flags(fs)
        self.no_merge = fs.boolean("no-merge", False, "Do not merge the current role "
                                   "information with what is provided to the command.")  # fmt: skip

    def check(self) -> None:
        if not self.id.value:
            raise CommandError("Cannot update a role without specifying the -id parameter")

    def act(self, job: Any) -> int:
        rid = self.object_id()
        if self.no_merge.value:
            body = self.fill({"ID": rid, "Name": self.name.value})
        else:
            body = self.merge(self.send("GET", f"/v1/acl/role/{rid}"))
        return self.render(self.send("PUT", f"/v1/acl/role/{rid}", body))

    def merge(self, body: dict[str, Any]) -> dict[str, Any]:
        """Without ``-no-merge`` the flags add to the role (``command/acl/role/update``):
        a policy link already there by name or ID is skipped, a service identity replaces the
        one of the same name, and a node identity is skipped only when the role has one of the
        same name in *another* datacenter (Consul compares the datacenters with ``!=``)."""
        if self.name.value:
            body["Name"] = self.name.value
        if self.description.value:
            body["Description"] = self.description.value
        links = body.get("Policies") or []
        links += [{"Name": n} for n in self.policy_names.value
                  if all(link.get("Name") != n for link in links)]  # fmt: skip
        links += [{"ID": i} for i in self.policy_ids.value
                  if all(link.get("ID") != i for link in links)]  # fmt: skip
        services = upsert_services(body.get("ServiceIdentities") or [], self.service_ids.value)
        nodes = body.get("NodeIdentities") or []
        for node in _node_identities(self.node_ids.value):
            if not any(n["NodeName"] == node["NodeName"] and n["Datacenter"] != node["Datacenter"]
                       for n in nodes):  # fmt: skip
                nodes.append(node)
        for key, value in (("Policies", links), ("ServiceIdentities", services),
                           ("NodeIdentities", nodes)):  # fmt: skip
            if value:
                body[key] = value
        if self.templated.value:
            body["TemplatedPolicies"] = [
                *(body.get("TemplatedPolicies") or []),
                _templated(self.templated.value, self.vars.value),
            ]
        return body

    def failure(self, job: Any) -> str:
        return f'Error updating role "{self.id.value}"'


@register("acl role delete")
class RoleDelete(_RoleCommand, _Delete):
    synopsis = "Delete an ACL role"
    usage_text = """
Usage: consul-sim acl role delete [options] -id ROLE

  Deletes an ACL role by providing either the ID or a unique ID prefix.

      $ consul-sim acl role delete -id b6b85
      $ consul-sim acl role delete -name my-role
"""


@register("acl role list")
class RoleList(_RoleCommand, _List):
    synopsis = "Lists ACL roles"
    usage_text = """
Usage: consul-sim acl role list [options]

  Lists all the ACL roles.

      $ consul-sim acl role list
"""
