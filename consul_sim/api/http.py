"""What every Consul endpoint shares: query options, blocking reads, JSON and headers, routing.

Consul parses its query string by hand (``?recurse`` has no value, ``?passing=maybe`` is an
error of its own), so handlers take the raw ``Request`` and these helpers do what Consul's
``parseWait``/``parseConsistency``/``parseDC`` do, with Consul's wording.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from consul_sim.acl import Authorizer
from consul_sim.api.errors import error_response, unexpected_error_response
from consul_sim.api.openapi import Ops, describe
from consul_sim.durations import DurationError, parse_duration
from consul_sim.errors import NO_PATH_TO_DATACENTER, BadRequest, ConsulError, MethodNotAllowed
from consul_sim.gostd import NumError, parse_bool
from consul_sim.jsonenc import encode_json
from consul_sim.models.base import DecodeError, parse_json

if TYPE_CHECKING:
    from consul_sim.world import Cluster

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]

ALL_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS")
MAX_QUERY_TIME = 600.0
DEFAULT_QUERY_TIME = 300.0


def cluster_of(request: Request) -> Cluster:
    cluster: Cluster = request.app.state.cluster
    return cluster


async def wrap(request: Request, handler: Handler) -> Response:
    """Consul's ``wrap`` (agent/http.go): the one path every answer takes, a wrong method's 405
    included. A ConsulError is rendered by :func:`error_response`, and every answer, error or
    not, carries the default ACL policy, which ``wrap`` sets before it looks at anything."""
    try:
        response = await handler(request)
    except ConsulError as err:
        response = error_response(err)
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug must not leak a traceback
        response = unexpected_error_response(request, exc)
    return with_acl_policy(response, cluster_of(request))


class ConsulRouter(APIRouter):
    """An APIRouter whose routes guard their methods the way Consul's mux does."""

    def endpoint(
        self, path: str, *methods: str, doc: Ops | None = None
    ) -> Callable[[Handler], Handler]:
        """Route ``path`` for ``methods``; ``doc`` describes it in ``/openapi.json`` (data only:
        the handler still parses the raw request the way Consul does)."""
        allowed = tuple(methods)

        def register(fn: Handler) -> Handler:
            async def checked(request: Request) -> Response:
                if request.method not in allowed:
                    raise MethodNotAllowed(request.method, allowed)
                return await fn(request)

            async def guarded(request: Request) -> Response:
                if request.method == "OPTIONS":
                    return Response(
                        status_code=200, headers={"Allow": ",".join(("OPTIONS", *allowed))}
                    )
                return await wrap(request, checked)

            guarded.__name__ = fn.__name__
            guarded.__doc__ = fn.__doc__
            if doc is not None:
                describe(guarded, path, allowed, doc)
            self.add_route(path, guarded, methods=list(ALL_METHODS), include_in_schema=False)
            return fn

        return register


def flag(request: Request, name: str) -> bool:
    """Consul's presence flags: ``?recurse`` and ``?recurse=anything`` both count."""
    return name in request.query_params


def bool_param(request: Request, name: str, error: str) -> bool:
    """A ``?passing``-style flag: present means true unless it parses as a false value."""
    if name not in request.query_params:
        return False
    raw = request.query_params[name]
    if raw == "":
        return True
    try:
        return parse_bool(raw)
    except NumError:
        raise BadRequest(error) from None


@dataclass
class QueryOptions:
    index: int = 0
    wait: float = 0.0
    stale: bool = False
    consistent: bool = False
    pretty: bool = False
    filter: str = ""
    node_meta: dict[str, str] = field(default_factory=dict)
    peer: str = ""
    datacenter_unreachable: bool = False

    def respond(self, obj: Any, index: int, *, headers: dict[str, str] | None = None) -> Response:
        """A read's JSON answer with the query meta Consul's ``setMeta`` writes
        (``X-Consul-Index``, the consistency headers), pretty-printed when asked."""
        return json_response(
            obj, pretty=self.pretty, index=index, consistency=self.consistency, headers=headers
        )

    @property
    def consistency(self) -> str:
        if self.stale:
            return "stale"
        if self.consistent:
            return "consistent"
        return "leader"


def check_dc(request: Request, cluster: Cluster) -> None:
    dc = request.query_params.get("dc", "")
    if dc and dc != cluster.datacenter:
        raise ConsulError(NO_PATH_TO_DATACENTER, 500)


def parse_wait(request: Request, opts: QueryOptions) -> None:
    """Consul's parseWait: ``?wait`` is a Go duration and ``?index`` an unsigned 64-bit int."""
    q = request.query_params
    if "wait" in q:
        try:
            opts.wait = parse_duration(q["wait"])
        except DurationError:
            raise BadRequest("Invalid wait time") from None
    if "index" in q:
        try:
            opts.index = int(q["index"])
            if opts.index < 0 or opts.index >= 2**64:
                raise ValueError
        except ValueError:
            raise BadRequest("Invalid index") from None


def query_options(request: Request, cluster: Cluster, *, defer_dc: bool = False) -> QueryOptions:
    """Parse what parseWait, parseConsistency, parseDC and parseFilter parse, in Consul's order.

    With ``defer_dc``, an unreachable ``?dc`` is only noted: endpoints whose own checks come
    first (KV, sessions) report it where Consul forwards the RPC, through :func:`forward`."""
    q = request.query_params
    opts = QueryOptions(pretty=flag(request, "pretty"))
    parse_wait(request, opts)
    opts.stale = flag(request, "stale")
    opts.consistent = flag(request, "consistent")
    if opts.stale and opts.consistent:
        raise BadRequest("Cannot specify ?stale with ?consistent, conflicting semantics.")
    if "max_stale" in q:
        try:
            parse_duration(q["max_stale"])
        except DurationError:
            raise BadRequest(f'Invalid max_stale value "{q["max_stale"]}"') from None
    if flag(request, "cached") and opts.consistent:
        raise BadRequest("Cannot specify ?cached with ?consistent, conflicting semantics.")
    if defer_dc:
        dc = q.get("dc", "")
        opts.datacenter_unreachable = bool(dc) and dc != cluster.datacenter
    else:
        check_dc(request, cluster)
    opts.filter = q.get("filter", "")
    opts.peer = q.get("peer", "")
    for pair in q.getlist("node-meta"):
        key, _, value = pair.partition(":")
        opts.node_meta[key] = value
    return opts


# -- ACL tokens ---------------------------------------------------------------------------------
ACL_POLICY_HEADER = "X-Consul-Default-Acl-Policy"


def acl_token(request: Request) -> str:
    """The secret a request carries, in Consul's order (``parseTokenWithoutResolvingProxyToken``):
    ``?token=``, then ``X-Consul-Token``, then ``Authorization: Bearer <t>`` (scheme matched
    case-insensitively, first word of the value); ``""`` means the anonymous token."""
    if request.query_params.get("token", ""):
        return request.query_params["token"]
    if request.headers.get("X-Consul-Token", ""):
        return request.headers["X-Consul-Token"]
    parts = request.headers.get("Authorization", "").split(" ")
    if len(parts) > 1 and parts[0].lower() == "bearer":
        value = " ".join(parts[1:]).strip()
        return value.split(" ")[0].strip()
    return ""


def authorizer(request: Request, cluster: Cluster) -> Authorizer:
    """The request's token resolved against the cluster's ACLs (403 ``ACL not found`` for an
    unknown secret); with ACLs disabled it allows everything."""
    return cluster.acl.resolve(acl_token(request))


def read_authorizer(request: Request, cluster: Cluster) -> Authorizer | None:
    """The request's authorizer, or None when ACLs are off so reads skip filtering entirely."""
    if not cluster.acl.enabled:
        return None
    return authorizer(request, cluster)


FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs"


@dataclass
class ResultsFilter:
    """ACL-filter a read's results and say so in ``X-Consul-Results-Filtered-By-ACLs``: the one
    place every read endpoint does it.

    Consul's RPCs drop what the token may not read (``agent/consul/acl_filter.go``) and flag it;
    ``maskResultsFilteredByACLs`` (``agent/consul/rpc.go``) then hides the flag from a caller
    who sent no token, so the anonymous caller learns nothing of what it cannot see. A blocking
    read filters again on every wake-up; the flag is the last pass's. With no authorizer (ACLs
    off) nothing is filtered."""

    authz: Authorizer | None
    token: str
    filtered: bool = False

    def keep(self, items: Iterable[T], can_read: Callable[[Authorizer, T], bool]) -> list[T]:
        found = list(items)
        if self.authz is None:
            return found
        authz = self.authz
        kept = [item for item in found if can_read(authz, item)]
        self.filtered = len(kept) != len(found)
        return kept

    def headers(self, headers: dict[str, str] | None = None) -> dict[str, str] | None:
        """``headers`` plus the flag, when the results were filtered for a named token."""
        if self.filtered and self.token:
            return {**(headers or {}), FILTERED_HEADER: "true"}
        return headers


def results_filter(request: Request, authz: Authorizer | None) -> ResultsFilter:
    return ResultsFilter(authz, acl_token(request))


def with_acl_policy(response: Response, cluster: Cluster) -> Response:
    """Consul stamps the configured default policy on every wrapped response, errors too."""
    response.headers[ACL_POLICY_HEADER] = cluster.acl.header_policy
    return response


def forward(opts: QueryOptions) -> QueryOptions:
    """Where Consul forwards the RPC to the request's datacenter: an unreachable one fails here."""
    if opts.datacenter_unreachable:
        raise ConsulError(NO_PATH_TO_DATACENTER, 500)
    return opts


# -- rendering ----------------------------------------------------------------------------------
def meta_headers(index: int | None, consistency: str | None = None) -> dict[str, str]:
    headers = {"X-Consul-Default-Acl-Policy": "allow"}
    if index is not None:
        headers["X-Consul-Index"] = str(max(index, 1))
        headers["X-Consul-Knownleader"] = "true"
        headers["X-Consul-Lastcontact"] = "0"
    if consistency is not None:
        headers["X-Consul-Effective-Consistency"] = consistency
    return headers


def json_response(
    obj: Any,
    *,
    pretty: bool = False,
    index: int | None = None,
    consistency: str | None = None,
    headers: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return bytes_response(
        encode_json(obj, pretty),
        index=index,
        consistency=consistency,
        headers=headers,
        status_code=status_code,
    )


def bytes_response(
    body: bytes,
    *,
    index: int | None = None,
    consistency: str | None = None,
    headers: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """A JSON answer already encoded (hot reads join cached bytes instead of encoding)."""
    all_headers = meta_headers(index, consistency)
    if headers:
        all_headers.update(headers)
    return Response(
        content=body,
        status_code=status_code,
        headers=all_headers,
        media_type="application/json",
    )


def denied_connect_response(opts: QueryOptions, headers: dict[str, str] | None = None) -> Response:
    """A Connect lookup for a service the token cannot read: Consul's RPC returns before its
    blocking query, so the answer is an empty list with a zero (shown as 1) index and no leader
    seen, and no filtered header."""
    return opts.respond(
        [],
        0,
        headers={**(headers or {}), "X-Consul-Knownleader": "false"},
    )


def empty_response() -> Response:
    """Agent writes answer 200 with no body."""
    return Response(status_code=200, headers=meta_headers(None))


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return parse_json(raw)
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None


# -- blocking queries ----------------------------------------------------------------------------
_closing: ContextVar[threading.Event | None] = ContextVar("consul_sim_closing", default=None)


@contextmanager
def closing_on(event: threading.Event) -> Iterator[None]:
    """Blocking queries begun inside answer at once, with what they have, once ``event`` is set.

    Consul's ``blockingQuery`` (agent/consul/rpc.go) kicks a waiting query back to its caller
    when its state store is abandoned rather than re-running it; a server that is stopping
    does the same here, so no request outlives its server. Whoever sets ``event`` then wakes
    the waiters with ``store.watches.notify()``. Requests that come in any other way
    (in-process clients) never see the event, so stopping a server leaves them waiting."""
    token = _closing.set(event)
    try:
        yield
    finally:
        _closing.reset(token)


def closing_event() -> threading.Event | None:
    """The serving process's closing event, inside :func:`closing_on` (``None`` in-process):
    long-lived answers (``/_sim/stream``) poll it to end before uvicorn waits on them."""
    return _closing.get()


async def wait_for(
    cluster: Cluster,
    wait: float,
    read: Callable[[], T],
    done: Callable[[T], bool],
) -> T:
    """Re-read on every store change until ``done`` or the deadline: Consul's blocking wait,
    clamped to 10 min (5 min when absent) plus up to 1/16 jitter. Timers due meanwhile fire
    (a TTL expiry is a change), and under the virtual clock the deadline is virtual time.
    A server that is closing (:func:`closing_on`) gets the current result at once."""
    result = read()
    if done(result):
        return result
    closing = _closing.get()
    world = cluster.world
    wait = wait if wait > 0 else DEFAULT_QUERY_TIME
    wait = min(wait, MAX_QUERY_TIME)
    wait += cluster.rand.uniform(0, wait / 16)
    deadline = world.clock.now() + wait
    loop = asyncio.get_running_loop()
    while True:
        woken = asyncio.Event()
        handle = cluster.store.watches.add(functools.partial(loop.call_soon_threadsafe, woken.set))
        try:
            world.run_due()
            result = read()
            now = world.clock.now()
            if done(result) or now >= deadline or (closing is not None and closing.is_set()):
                return result
            timeout: float | None = None
            if not world.clock.virtual:
                next_timer = world.scheduler.next_deadline()
                wake_at = deadline if next_timer is None else min(deadline, next_timer)
                timeout = max(wake_at - now, 0.0)
            try:
                await asyncio.wait_for(woken.wait(), timeout)
            except TimeoutError:
                pass
        finally:
            cluster.store.watches.remove(handle)


async def blocking(
    request: Request,
    cluster: Cluster,
    opts: QueryOptions,
    read: Callable[[], tuple[int, T]],
) -> tuple[int, T]:
    """An index-based blocking query: answers once the result index passes ``?index``."""
    return await wait_for(
        cluster, opts.wait, read, lambda result: opts.index == 0 or result[0] > opts.index
    )


# -- ?filter= -----------------------------------------------------------------------------------
def apply_filter(
    expression: str,
    items: list[T],
    render: Callable[[T], Any],
    fields: Iterable[str] | None = None,
) -> list[T]:
    """Consul's ``?filter=`` over rendered objects; a malformed expression is Consul's error."""
    if not expression:
        return items
    from consul_sim.filter import FilterError, compile_filter

    try:
        compiled = compile_filter(expression, valid_fields=set(fields) if fields else None)
    except FilterError as exc:
        raise ConsulError(exc.message, exc.status_code) from None
    return [item for item in items if compiled.matches(render(item))]
