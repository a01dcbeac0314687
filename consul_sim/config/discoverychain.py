"""The discovery-chain kinds: ``service-resolver``, ``service-splitter`` and ``service-router``.

Models, Normalize and Validate follow Consul's ``agent/structs/config_entry_discoverychain.go``
(CE build): its struct fields, ``json:",omitempty"`` and ``alias`` tags, and each error sentence.
What CE refuses because it is an Enterprise feature (a Namespace, Partition or SamenessGroup on a
redirect or failover, a failover policy) carries the sentence of
``config_entry_discoverychain_ce.go`` as that file's tests quote it. Go iterates ``Subsets`` and
``Failover`` in random order, so when two of them are wrong Consul may name either; the simulator
takes them in sorted order so the answer is repeatable.

``time.Duration`` fields are whole nanoseconds (:data:`~consul_sim.durations.Nanoseconds`). Their
``MarshalJSON`` writes them as Go duration strings *before* every other field (the outer struct's
fields come first in Go's embedding), and leaves them out when zero; :class:`ChainModel` does the
same. The kinds join the config-entry table from :mod:`consul_sim.config` (one line each).
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from consul_sim.config.validate import HTTP_METHODS
from consul_sim.config.validate import _validate_meta as validate_meta
from consul_sim.durations import Nanoseconds, go_duration
from consul_sim.errors import ConsulError
from consul_sim.models.base import consul_alias
from consul_sim.models.config_entries import (
    ConfigEntryBase,
    EntryModel,
    IntentionHTTPHeaderPermission,
)

SERVICE_RESOLVER: Final = "service-resolver"
SERVICE_SPLITTER: Final = "service-splitter"
SERVICE_ROUTER: Final = "service-router"
CHAIN_KINDS = (SERVICE_ROUTER, SERVICE_SPLITTER, SERVICE_RESOLVER)

WILDCARD = "*"
LB_POLICIES = ("", "random", "round_robin", "least_request", "ring_hash", "maglev")
HASH_POLICY_FIELDS = ("header", "cookie", "query_parameter")
RETRY_CONDITIONS = (
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
)
FAILOVER_MODES = ("", "default", "order-by-locality")
"""Consul Enterprise's failover policy modes; CE refuses every non-empty one."""
_SUBSET_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
SUBSET_MAX = 63


class ChainModel(EntryModel):
    """A discovery-chain struct: duration fields first, as Go strings, omitted when zero."""

    durations: ClassVar[tuple[str, ...]] = ()

    def render(self) -> dict[str, Any]:
        rest = super().render()
        out: dict[str, Any] = {}
        for name in self.durations:
            key = consul_key(type(self), name)
            value = rest.pop(key, 0)
            if value:
                out[key] = go_duration(value)
        out.update(rest)
        return out


def consul_key(cls: type[EntryModel], name: str) -> str:
    info = cls.model_fields[name]
    return info.alias or consul_alias(name)


# -- service-resolver -----------------------------------------------------------------------------
class ServiceResolverSubset(ChainModel):
    omitempty = frozenset({"filter", "only_passing"})
    aliases = {"only_passing": "only_passing"}

    filter: str = ""
    only_passing: bool = False


class ServiceResolverRedirect(ChainModel):
    omitempty = frozenset(
        {"service", "service_subset", "namespace", "partition", "sameness_group", "datacenter"}
        | {"peer"}
    )
    aliases = {"service_subset": "service_subset", "sameness_group": "sameness_group"}

    service: str = ""
    service_subset: str = ""
    namespace: str = ""
    partition: str = ""
    sameness_group: str = ""
    datacenter: str = ""
    peer: str = ""

    def is_empty(self) -> bool:
        return not any(
            (self.service, self.service_subset, self.namespace, self.partition)
            + (self.sameness_group, self.datacenter, self.peer)
        )


class ServiceResolverFailoverTarget(ChainModel):
    omitempty = frozenset(
        {"service", "service_subset", "partition", "namespace", "datacenter", "peer"}
    )
    aliases = {"service_subset": "service_subset"}

    service: str = ""
    service_subset: str = ""
    partition: str = ""
    namespace: str = ""
    datacenter: str = ""
    peer: str = ""


class ServiceResolverFailoverPolicy(ChainModel):
    omitempty = frozenset({"mode", "regions"})

    mode: str = ""
    regions: list[str] = Field(default_factory=list)


class ServiceResolverFailover(ChainModel):
    omitempty = frozenset(
        {"service", "service_subset", "namespace", "sameness_group", "datacenters", "targets"}
        | {"policy"}
    )
    aliases = {"service_subset": "service_subset", "sameness_group": "sameness_group"}

    service: str = ""
    service_subset: str = ""
    namespace: str = ""
    sameness_group: str = ""
    datacenters: list[str] = Field(default_factory=list)
    targets: list[ServiceResolverFailoverTarget] = Field(default_factory=list)
    policy: ServiceResolverFailoverPolicy | None = None

    def is_empty(self) -> bool:
        return not any(
            (self.service, self.service_subset, self.namespace, self.datacenters, self.targets)
            + (self.sameness_group,)
        )


class RingHashConfig(ChainModel):
    omitempty = frozenset({"minimum_ring_size", "maximum_ring_size"})
    aliases = {"minimum_ring_size": "minimum_ring_size", "maximum_ring_size": "maximum_ring_size"}

    minimum_ring_size: int = 0
    maximum_ring_size: int = 0


class LeastRequestConfig(ChainModel):
    omitempty = frozenset({"choice_count"})
    aliases = {"choice_count": "choice_count"}

    choice_count: int = 0


class CookieConfig(ChainModel):
    omitempty = frozenset({"session", "ttl", "path"})
    durations = ("ttl",)

    session: bool = False
    ttl: Nanoseconds = Nanoseconds(0)
    path: str = ""


class HashPolicy(ChainModel):
    omitempty = frozenset({"field", "field_value", "cookie_config", "source_ip", "terminal"})
    aliases = {
        "field_value": "field_value",
        "cookie_config": "cookie_config",
        "source_ip": "source_ip",
    }

    field: str = ""
    field_value: str = ""
    cookie_config: CookieConfig | None = None
    source_ip: bool = False
    terminal: bool = False


class LoadBalancer(ChainModel):
    omitempty = frozenset({"policy", "ring_hash_config", "least_request_config", "hash_policies"})
    aliases = {
        "ring_hash_config": "ring_hash_config",
        "least_request_config": "least_request_config",
        "hash_policies": "hash_policies",
    }

    policy: str = ""
    ring_hash_config: RingHashConfig | None = None
    least_request_config: LeastRequestConfig | None = None
    hash_policies: list[HashPolicy] = Field(default_factory=list)

    def is_hash_based(self) -> bool:
        return self.policy in ("maglev", "ring_hash")


class ServiceResolverPrioritizeByLocality(ChainModel):
    omitempty = frozenset({"mode"})

    mode: str = ""


class ServiceResolverConfigEntry(ConfigEntryBase, ChainModel):
    omitempty = frozenset(
        {"default_subset", "subsets", "redirect", "failover", "prioritize_by_locality"}
        | {"load_balancer", "meta"}
    )
    aliases = {
        "default_subset": "default_subset",
        "connect_timeout": "connect_timeout",
        "request_timeout": "request_timeout",
        "prioritize_by_locality": "prioritize_by_locality",
        "load_balancer": "load_balancer",
    }
    durations = ("connect_timeout", "request_timeout")

    kind: Literal["service-resolver"] = Field(SERVICE_RESOLVER, alias="Kind")
    name: str = ""
    default_subset: str = ""
    subsets: dict[str, ServiceResolverSubset] = Field(default_factory=dict)
    redirect: ServiceResolverRedirect | None = None
    failover: dict[str, ServiceResolverFailover] = Field(default_factory=dict)
    connect_timeout: Nanoseconds = Nanoseconds(0)
    request_timeout: Nanoseconds = Nanoseconds(0)
    prioritize_by_locality: ServiceResolverPrioritizeByLocality | None = None
    load_balancer: LoadBalancer | None = None
    meta: dict[str, str] = Field(default_factory=dict)

    def is_default(self) -> bool:
        """``IsDefault``: nothing set that changes how the service resolves."""
        return not (
            self.default_subset
            or self.subsets
            or self.redirect is not None
            or self.failover
            or self.connect_timeout
            or self.request_timeout
            or self.load_balancer is not None
        )

    def subset_exists(self, name: str) -> bool:
        return name == "" or name in self.subsets


# -- service-splitter -----------------------------------------------------------------------------
class HTTPHeaderModifiers(ChainModel):
    omitempty = frozenset({"add", "set", "remove"})

    add: dict[str, str] = Field(default_factory=dict)
    set: dict[str, str] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


class ServiceSplit(ChainModel):
    omitempty = frozenset(
        {"service", "service_subset", "namespace", "partition", "request_headers"}
        | {"response_headers"}
    )
    aliases = {
        "service_subset": "service_subset",
        "request_headers": "request_headers",
        "response_headers": "response_headers",
    }

    weight: float = 0.0
    service: str = ""
    service_subset: str = ""
    namespace: str = ""
    partition: str = ""
    request_headers: HTTPHeaderModifiers | None = None
    response_headers: HTTPHeaderModifiers | None = None

    def render(self) -> dict[str, Any]:
        out = super().render()
        out["Weight"] = go_float32(self.weight)
        return out


def go_float32(value: float) -> float | int:
    """How encoding/json writes a float32 weight: ``50``, ``33.33``."""
    return int(value) if float(value).is_integer() else float(f"{value:.7g}")


class ServiceSplitterConfigEntry(ConfigEntryBase, ChainModel):
    omitempty = frozenset({"meta"})

    kind: Literal["service-splitter"] = Field(SERVICE_SPLITTER, alias="Kind")
    name: str = ""
    splits: list[ServiceSplit] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)


# -- service-router -------------------------------------------------------------------------------
ServiceRouteHTTPMatchHeader = IntentionHTTPHeaderPermission
"""Go has two structs of this one shape (a route's header match, an L7 intention's header)."""


class ServiceRouteHTTPMatchQueryParam(ChainModel):
    omitempty = frozenset({"present", "exact", "regex"})

    name: str = ""
    present: bool = False
    exact: str = ""
    regex: str = ""


class ServiceRouteHTTPMatch(ChainModel):
    omitempty = frozenset(
        {"path_exact", "path_prefix", "path_regex", "header", "query_param", "methods"}
    )
    aliases = {
        "path_exact": "path_exact",
        "path_prefix": "path_prefix",
        "path_regex": "path_regex",
        "query_param": "query_param",
    }

    path_exact: str = ""
    path_prefix: str = ""
    path_regex: str = ""
    header: list[ServiceRouteHTTPMatchHeader] = Field(default_factory=list)
    query_param: list[ServiceRouteHTTPMatchQueryParam] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)


class ServiceRouteMatch(ChainModel):
    omitempty = frozenset({"http"})

    http: ServiceRouteHTTPMatch | None = None


class ServiceRouteDestination(ChainModel):
    omitempty = frozenset(
        {"service", "service_subset", "namespace", "partition", "prefix_rewrite", "num_retries"}
        | {"retry_on_connect_failure", "retry_on", "retry_on_status_codes", "request_headers"}
        | {"response_headers"}
    )
    aliases = {
        alias: alias
        for alias in (
            "service_subset",
            "prefix_rewrite",
            "request_timeout",
            "idle_timeout",
            "num_retries",
            "retry_on_connect_failure",
            "retry_on",
            "retry_on_status_codes",
            "request_headers",
            "response_headers",
        )
    }
    durations = ("request_timeout", "idle_timeout")

    service: str = ""
    service_subset: str = ""
    namespace: str = ""
    partition: str = ""
    prefix_rewrite: str = ""
    request_timeout: Nanoseconds = Nanoseconds(0)
    idle_timeout: Nanoseconds = Nanoseconds(0)
    num_retries: int = 0
    retry_on_connect_failure: bool = False
    retry_on: list[str] = Field(default_factory=list)
    retry_on_status_codes: list[int] = Field(default_factory=list)
    request_headers: HTTPHeaderModifiers | None = None
    response_headers: HTTPHeaderModifiers | None = None


class ServiceRoute(ChainModel):
    omitempty = frozenset({"match", "destination"})

    match: ServiceRouteMatch | None = None
    destination: ServiceRouteDestination | None = None


class ServiceRouterConfigEntry(ConfigEntryBase, ChainModel):
    omitempty = frozenset({"meta"})

    kind: Literal["service-router"] = Field(SERVICE_ROUTER, alias="Kind")
    name: str = ""
    routes: list[ServiceRoute] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)


ChainEntry = ServiceResolverConfigEntry | ServiceSplitterConfigEntry | ServiceRouterConfigEntry


# -- Normalize ------------------------------------------------------------------------------------
def normalize_chain_entry(entry: ConfigEntryBase) -> None:
    """Normalize of the three kinds: router methods upper-cased, split weights rounded to the
    0.01 % Consul can represent. (CE's namespace defaults write to a copy of each split, so
    they change nothing.)"""
    if isinstance(entry, ServiceSplitterConfigEntry):
        for split in entry.splits:
            split.weight = scale_weight(split.weight) / 100.0
    elif isinstance(entry, ServiceRouterConfigEntry):
        for route in entry.routes:
            if route.match is not None and route.match.http is not None:
                route.match.http.methods = [m.upper() for m in route.match.http.methods]


def scale_weight(weight: float) -> int:
    """``scaleWeight``: hundredths of a percent, rounded half away from zero (``math.Round``)."""
    scaled = weight * 100.0
    return int(math.copysign(math.floor(abs(scaled) + 0.5), scaled))


# -- Validate -------------------------------------------------------------------------------------
def validate_chain_entry(entry: ConfigEntryBase) -> None:
    """Validate of the three kinds; ConsulError (500) with Consul's sentence on the first fault."""
    if isinstance(entry, ServiceResolverConfigEntry):
        _validate_resolver(entry)
    elif isinstance(entry, ServiceSplitterConfigEntry):
        _validate_splitter(entry)
    elif isinstance(entry, ServiceRouterConfigEntry):
        _validate_router(entry)


def _validate_splitter(entry: ServiceSplitterConfigEntry) -> None:
    if entry.name == "":
        raise ConsulError("Name is required")
    if not entry.splits:
        raise ConsulError("no splits configured")
    validate_meta(entry.meta)
    found: set[tuple[str, str, str, str]] = set()
    for split in entry.splits:
        key = (split.service or entry.name, split.service_subset, split.namespace, split.partition)
        if key in found:
            raise ConsulError(
                "split destination occurs more than once: "
                f'service="{key[0]}", subset="{key[1]}", namespace="{key[2]}", '
                f'partition="{key[3]}"'
            )
        found.add(key)
    total = sum(scale_weight(split.weight) for split in entry.splits)
    if total != 100 * 100:
        raise ConsulError(f"the sum of all split weights must be 100, not {total / 100:f}")


def _validate_router(entry: ServiceRouterConfigEntry) -> None:
    if entry.name == "":
        raise ConsulError("Name is required")
    validate_meta(entry.meta)
    for i, route in enumerate(entry.routes):
        rewritable = False
        http = route.match.http if route.match is not None else None
        if http is not None:
            rewritable = bool(http.path_exact or http.path_prefix)
            _validate_http_match(i, http)
        dest = route.destination
        if dest is not None:
            if dest.prefix_rewrite and not rewritable:
                raise ConsulError(
                    f"Route[{i}] cannot make use of PrefixRewrite without configuring either "
                    "PathExact or PathPrefix"
                )
            for cond in dest.retry_on:
                if cond not in RETRY_CONDITIONS:
                    raise ConsulError(f'Route[{i}] contains an invalid retry condition: "{cond}"')


def _validate_http_match(i: int, http: ServiceRouteHTTPMatch) -> None:
    for field, value in (("PathExact", http.path_exact), ("PathPrefix", http.path_prefix)):
        if value and not value.startswith("/"):
            raise ConsulError(f"Route[{i}] {field} doesn't start with '/': \"{value}\"")
    if sum(1 for p in (http.path_exact, http.path_prefix, http.path_regex) if p) > 1:
        raise ConsulError(
            f"Route[{i}] should only contain at most one of PathExact, PathPrefix, or PathRegex"
        )
    for j, hdr in enumerate(http.header):
        if hdr.name == "":
            raise ConsulError(f"Route[{i}] Header[{j}] missing required Name field")
        if sum(1 for m in (hdr.present, hdr.exact, hdr.regex, hdr.prefix, hdr.suffix) if m) != 1:
            raise ConsulError(
                f"Route[{i}] Header[{j}] should only contain one of Present, Exact, Prefix, "
                "Suffix, or Regex"
            )
    for j, qp in enumerate(http.query_param):
        if qp.name == "":
            raise ConsulError(f"Route[{i}] QueryParam[{j}] missing required Name field")
        if sum(1 for m in (qp.present, qp.exact, qp.regex) if m) != 1:
            raise ConsulError(
                f"Route[{i}] QueryParam[{j}] should only contain one of Present, Exact, or Regex"
            )
    seen: set[str] = set()
    for method in http.methods:
        if method not in HTTP_METHODS:
            raise ConsulError(f'Route[{i}] Methods contains an invalid method "{method}"')
        if method in seen:
            raise ConsulError(f'Route[{i}] Methods contains "{method}" more than once')
        seen.add(method)


def validate_subset_name(name: str) -> str:
    """``validateServiceSubset``: a DNS label, since subsets appear in SNI names; "" when fine."""
    if name == "" or len(name) > SUBSET_MAX:
        return "must be non-empty and 63 characters or fewer"
    if not _SUBSET_NAME.match(name):
        return (
            "must be 63 characters or fewer, begin or end with lower case alphanumeric "
            "characters, and contain lower case alphanumeric characters or '-' in between"
        )
    return ""


def _validate_resolver(entry: ServiceResolverConfigEntry) -> None:
    if entry.name == "":
        raise ConsulError("Name is required")
    validate_meta(entry.meta)
    for name in sorted(entry.subsets):
        if name == "":
            raise ConsulError("Subset defined with empty name")
        problem = validate_subset_name(name)
        if problem:
            raise ConsulError(f'Subset "{name}" is invalid: {problem}')
        expression = entry.subsets[name].filter
        if expression:
            from consul_sim.filter import FilterError, compile_filter  # only resolvers with filters
            from consul_sim.filter.errors import EVALUATOR_ERROR_PREFIX

            try:
                compile_filter(expression, None)
            except FilterError as exc:
                reason = exc.message.removeprefix(EVALUATOR_ERROR_PREFIX)
                raise ConsulError(
                    f'Filter for subset "{name}" is not a valid expression: {reason}'
                ) from None
    if entry.default_subset and entry.default_subset not in entry.subsets:
        raise ConsulError(f'DefaultSubset "{entry.default_subset}" is not a valid subset')
    if entry.redirect is not None:
        _validate_redirect(entry, entry.redirect)
    for subset in sorted(entry.failover):
        _validate_failover(entry, subset, entry.failover[subset])
    for field, value in (
        ("ConnectTimeout", entry.connect_timeout),
        ("RequestTimeout", entry.request_timeout),
    ):
        if value < 0:
            raise ConsulError(f"Bad {field} '{go_duration(value)}', must be >= 0")
    if entry.load_balancer is not None:
        _validate_load_balancer(entry.load_balancer)
    if entry.prioritize_by_locality is not None and entry.prioritize_by_locality.mode:
        # CE's ServiceResolverPrioritizeByLocality.validate, trailing space and all.
        raise ConsulError("Prioritize-by-locality requires Consul Enterprise ")


def _enterprise(redirect_or_target: Any) -> str:
    """CE's ValidateEnterprise: the field an Enterprise-only setting uses, or ""."""
    for attr, field in (
        ("partition", "Partition"),
        ("namespace", "Namespace"),
        ("sameness_group", "SamenessGroup"),
    ):
        if getattr(redirect_or_target, attr, ""):
            return f"Setting {field} requires Consul Enterprise"
    return ""


def _validate_redirect(entry: ServiceResolverConfigEntry, r: ServiceResolverRedirect) -> None:
    problem = _enterprise(r)
    if problem:
        raise ConsulError(f"Redirect: {problem}")
    if entry.failover:
        raise ConsulError("Redirect and Failover cannot both be set")
    if r.is_empty():
        raise ConsulError("Redirect is empty")
    if r.peer and r.service_subset:
        raise ConsulError("Redirect.Peer cannot be set with Redirect.ServiceSubset")
    if r.peer and r.datacenter:
        raise ConsulError("Redirect.Peer cannot be set with Redirect.Datacenter")
    if r.service == "":
        for value, field in ((r.service_subset, "ServiceSubset"), (r.peer, "Peer")):
            if value:
                raise ConsulError(f"Redirect.{field} defined without Redirect.Service")
    elif r.service_subset and r.service == entry.name and r.service_subset not in entry.subsets:
        raise ConsulError(
            f'Redirect.ServiceSubset "{r.service_subset}" is not a valid subset of "{entry.name}"'
        )


def _validate_failover(
    entry: ServiceResolverConfigEntry, subset: str, f: ServiceResolverFailover
) -> None:
    prefix = f'Bad Failover["{subset}"]: '
    problem = _enterprise(f)
    if problem:
        raise ConsulError(prefix + problem)
    if subset != WILDCARD and subset not in entry.subsets:
        raise ConsulError(prefix + "not a valid subset subset")
    if f.is_empty():
        raise ConsulError(
            prefix + "one of Service, ServiceSubset, Namespace, Targets, or Datacenters is required"
        )
    if f.policy is not None and f.policy.mode:
        # CE's Policy.ValidateEnterprise runs before the check that the mode is one of
        # FAILOVER_MODES, so in CE any mode at all gets the Enterprise sentence.
        raise ConsulError(prefix + "Setting failover policies requires Consul Enterprise")
    if f.service_subset and f.service in ("", entry.name):
        if f.service_subset not in entry.subsets:
            raise ConsulError(
                f'{prefix}ServiceSubset "{f.service_subset}" is not a valid subset of "{f.service}"'
            )
    if f.datacenters and f.targets:
        raise ConsulError(prefix + "Targets cannot be set with Datacenters")
    if f.service_subset and f.targets:
        raise ConsulError(prefix + "Targets cannot be set with ServiceSubset")
    if f.service and f.targets:
        raise ConsulError(prefix + "Targets cannot be set with Service")
    for i, t in enumerate(f.targets):
        where = f'Bad Failover["{subset}"].Targets[{i}]: '
        problem = _enterprise(t)
        if problem:
            raise ConsulError(where + problem)
        if t.peer and t.service_subset:
            raise ConsulError(where + "Peer cannot be set with ServiceSubset")
        if t.peer and t.datacenter:
            raise ConsulError(where + "Peer cannot be set with Datacenter")
        if t.service_subset and t.service in ("", entry.name):
            if t.service_subset not in entry.subsets:
                raise ConsulError(
                    f'{where}ServiceSubset "{t.service_subset}" is not a valid subset of '
                    f'"{entry.name}"'
                )
    if any(dc == "" for dc in f.datacenters):
        raise ConsulError(f'Bad Failover["{subset}"].Datacenters: found empty datacenter')


def _validate_load_balancer(lb: LoadBalancer) -> None:
    if lb.policy not in LB_POLICIES:
        raise ConsulError(f'Bad LoadBalancer policy: "{lb.policy}" is not supported')
    if lb.policy != "ring_hash" and lb.ring_hash_config is not None:
        raise ConsulError(
            "Bad LoadBalancer configuration. RingHashConfig specified for incompatible load "
            f'balancing policy "{lb.policy}"'
        )
    if lb.policy != "least_request" and lb.least_request_config is not None:
        raise ConsulError(
            "Bad LoadBalancer configuration. LeastRequestConfig specified for incompatible load "
            f'balancing policy "{lb.policy}"'
        )
    if not lb.is_hash_based() and lb.hash_policies:
        raise ConsulError(
            "Bad LoadBalancer configuration: HashPolicies specified for non-hash-based Policy: "
            f'"{lb.policy}"'
        )
    for i, hp in enumerate(lb.hash_policies):
        where = f"Bad LoadBalancer HashPolicy[{i}]: "
        if hp.field and hp.field not in HASH_POLICY_FIELDS:
            raise ConsulError(f'{where}"{hp.field}" is not a supported field')
        if hp.source_ip and hp.field:
            raise ConsulError(
                f'{where}A single hash policy cannot hash both a source address and a "{hp.field}"'
            )
        if hp.source_ip and hp.field_value:
            raise ConsulError(where + "A FieldValue cannot be specified when hashing SourceIP")
        if hp.field and not hp.field_value:
            raise ConsulError(f'{where}Field "{hp.field}" was specified without a FieldValue')
        if hp.field_value and not hp.field:
            raise ConsulError(where + "FieldValue requires a Field to apply to")
        if hp.cookie_config is not None:
            if hp.field != "cookie":
                raise ConsulError(f'{where}cookie_config provided for "{hp.field}"')
            if hp.cookie_config.session and hp.cookie_config.ttl != 0:
                raise ConsulError(where + "a session cookie cannot have an associated TTL")
