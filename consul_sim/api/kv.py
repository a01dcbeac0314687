"""/v1/kv: Consul's KVSEndpoint, with its checks in Consul's order.

Consul reaches a KV handler through Go's ServeMux, which answers first: a path with an empty,
``.`` or ``..`` segment (``/v1/kv//x``) gets a 301 to its cleaned form, and ``/v1/kv`` a 301 to
``/v1/kv/``; before that, go-cleanhttp refuses a path holding a non-printable character with an
empty 400 (``PrintablePathCheck`` in ``api/app.py``, for every route). Only then does the
handler guard its methods and parse. An unknown ``?dc`` is only noticed when the handler
forwards its RPC, so every check of the handler's own comes first.
"""

from __future__ import annotations

from urllib.parse import quote_plus

from fastapi import Request
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.responses import Response

from consul_sim import kvs
from consul_sim.acl import READ, WRITE, Authorizer, permission_denied
from consul_sim.api.http import (
    ALL_METHODS,
    ConsulRouter,
    QueryOptions,
    authorizer,
    blocking,
    cluster_of,
    flag,
    forward,
    json_response,
    meta_headers,
    query_options,
    results_filter,
    wrap,
)
from consul_sim.api.openapi import (
    BLOCKING,
    BOOL,
    CACHED,
    CAS,
    CONSISTENT,
    DC,
    JSON,
    MAX_STALE,
    PRETTY,
    STALE,
    STRING,
    UINT64,
    Answer,
    Body,
    Op,
    Param,
    describe,
    ok,
)
from consul_sim.errors import (
    BadRequest,
    ConsulError,
    MethodNotAllowed,
    PermissionDenied,
)
from consul_sim.gostd import NumError, parse_uint
from consul_sim.models.kv import DirEntry

router = ConsulRouter()


class KeyConvertor(PathConvertor):
    """Starlette's ``path`` stops at a newline; a KV key must reach the handler whole, so that a
    newline in it gets the printable-path check's 400, not a 404 for an unknown endpoint."""

    regex = "(?s:.*)"


register_url_convertor("kvkey", KeyConvertor())

KV_METHODS = ("GET", "PUT", "DELETE")


# -- Go's ServeMux, in front of the handler ------------------------------------------------------
def _go_clean(path: str) -> str:
    """Go's path.Clean for a rooted path."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    return "/" + "/".join(out)


def _mux_clean(path: str) -> str:
    """ServeMux's cleanPath: path.Clean, keeping a trailing slash."""
    cleaned = _go_clean(path)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def _moved_permanently(request: Request, path: str) -> Response:
    """Go's http.Redirect with 301: a link body for GET only, a content type for GET and HEAD."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    location = path + ("?" + query if query else "")
    headers = {"Location": location}
    body = b""
    if request.method in ("GET", "HEAD"):
        headers["Content-Type"] = "text/html; charset=utf-8"
    if request.method == "GET":
        body = f'<a href="{_html_escape(location)}">Moved Permanently</a>.\n\n'.encode()
    return Response(content=body, status_code=301, headers=headers)


async def kv_root(request: Request) -> Response:
    return _moved_permanently(request, "/v1/kv/")


async def kv_endpoint(request: Request) -> Response:
    """Routed by hand rather than with ConsulRouter.endpoint: Go's mux redirects an unclean path
    whatever its method, before Consul's method guard (same Allow list) ever runs."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    escaped = raw_path.decode("latin-1")
    cleaned = _mux_clean(escaped)
    if cleaned != escaped:
        return _moved_permanently(request, cleaned)
    if request.method == "OPTIONS":
        return Response(status_code=200, headers={"Allow": ",".join(("OPTIONS", *KV_METHODS))})
    return await wrap(request, _handle)


async def _handle(request: Request) -> Response:
    if request.method not in KV_METHODS:
        raise MethodNotAllowed(request.method, KV_METHODS)
    opts = _parse(request)
    key = request.path_params["key"]
    if request.method == "GET":
        if "keys" in request.query_params:
            return await _get_keys(request, key, opts)
        return await _get(request, key, opts)
    if request.method == "PUT":
        return await _put(request, key, opts)
    return await _delete(request, key, opts)


router.add_route("/v1/kv", kv_root, methods=list(ALL_METHODS), include_in_schema=False)
router.add_route(
    "/v1/kv/{key:kvkey}", kv_endpoint, methods=list(ALL_METHODS), include_in_schema=False
)

_MOVED = Answer(301, "Go's mux: the cleaned path is in `Location`", "text/html", dict(STRING))
_MOVED_NO_BODY = Answer(301, "Go's mux: the cleaned path is in `Location`", None)
_ABSENT = Answer(404, "no such key (or nothing under the prefix); the body is empty", None)
_KV_READ = (DC, *BLOCKING, STALE, CONSISTENT, CACHED, MAX_STALE, PRETTY)
describe(
    kv_root,
    "/v1/kv",
    ALL_METHODS,
    {
        method: Op(
            "redirects to /v1/kv/, whatever the method (Go's mux answers first)",
            answers=(_MOVED if method == "GET" else _MOVED_NO_BODY,),
            errors=(),
        )
        for method in ALL_METHODS
    },
)
describe(
    kv_endpoint,
    "/v1/kv/{key:kvkey}",
    KV_METHODS,
    {
        "GET": Op(
            "a key, every key under a prefix (?recurse), or the key names (?keys)",
            (
                *_KV_READ,
                Param("recurse", "every entry under the key as a prefix", flag=True),
                Param("raw", "the value alone, not the JSON entry", flag=True),
                Param("keys", "the key names under the prefix", flag=True),
                Param("separator", "with ?keys: list up to this separator"),
            ),
            answers=(
                Answer(
                    200,
                    "the entries, the key names, or with ?raw the value itself",
                    JSON,
                    {"type": "array"},
                    (("text/plain", dict(STRING)),),
                ),
                _MOVED,
                _ABSENT,
            ),
        ),
        "PUT": Op(
            "write a key (?cas, ?acquire and ?release make it conditional)",
            (
                DC,
                PRETTY,
                Param("flags", "an opaque uint64 kept with the key", dict(UINT64)),
                CAS,
                Param("acquire", "take the key's lock for this session"),
                Param("release", "give up the key's lock held by this session"),
            ),
            Body(schema=dict(STRING), media="application/octet-stream", required=False),
            (ok(BOOL, "whether the write was applied"), _MOVED_NO_BODY),
            errors=(400, 403, 413, 500),
        ),
        "DELETE": Op(
            "delete a key, or with ?recurse every key under it",
            (
                DC,
                PRETTY,
                Param("recurse", "every key under the key as a prefix", flag=True),
                CAS,
            ),
            answers=(ok(BOOL, "whether the delete was applied"), _MOVED_NO_BODY),
        ),
    },
)


# -- parsing -------------------------------------------------------------------------------------
def _parse(request: Request) -> QueryOptions:
    """Consul's parse(): an unreachable ``?dc`` is reported only where the RPC is forwarded."""
    return query_options(request, cluster_of(request), defer_dc=True)


def _first(request: Request, name: str) -> str:
    """Go's url.Values.Get: the first value, "" when absent."""
    values = request.query_params.getlist(name)
    return values[0] if values else ""


def _parse_uint(raw: str) -> int:
    """Go's strconv.ParseUint(raw, 10, 64); the handler returns its error as a 500."""
    try:
        return parse_uint(raw, 10)
    except NumError as exc:
        raise ConsulError(str(exc)) from None


def _encoded_query(request: Request) -> str:
    """Go's url.Values.Encode: keys sorted, each value query-escaped."""
    pairs = request.query_params.multi_items()
    return "&".join(
        f"{quote_plus(name, safe='')}={quote_plus(value, safe='')}"
        for name in sorted({name for name, _ in pairs})
        for other, value in pairs
        if other == name
    )


def _refuse_conflicting(request: Request, *names: str) -> None:
    if sum(1 for name in names if name in request.query_params) > 1:
        raise BadRequest(f"Conflicting flags: {_encoded_query(request)}\n")


# -- ACLs ----------------------------------------------------------------------------------------
def _authz(request: Request) -> Authorizer:
    """Resolved where Consul's RPC resolves it: after the handler's own checks and the
    datacenter forward (an unknown token is 403 ``ACL not found``)."""
    return authorizer(request, cluster_of(request))


def _can_read_key(authz: Authorizer, key: str) -> bool:
    return authz.allowed("key", READ, key)


def _require_write_prefix(authz: Authorizer, prefix: str) -> None:
    """A tree delete needs ``KeyWritePrefix``: write on the prefix and on every rule under it."""
    if not authz.key_write_prefix(prefix):
        raise PermissionDenied(permission_denied(authz.accessor_id, "key", WRITE, prefix))


# -- handlers ------------------------------------------------------------------------------------
def _not_found(index: int, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=404, headers={**meta_headers(index), **(headers or {})})


async def _get(request: Request, key: str, opts: QueryOptions) -> Response:
    recurse = flag(request, "recurse")
    if not recurse and key == "":
        raise BadRequest("Missing key name")
    opts = forward(opts)
    cluster = cluster_of(request)
    store = cluster.store
    authz = _authz(request)
    if not recurse:
        authz.require("key", READ, key)

    def read() -> tuple[int, list[DirEntry]]:
        if recurse:
            return kvs.list_entries(store, key)
        index, entry = kvs.get(store, key)
        return index, [entry] if entry is not None else []

    index, found = await blocking(request, cluster, opts, read)
    acl = results_filter(request, authz)
    entries = acl.keep(found, lambda authz, e: _can_read_key(authz, e.key))
    extra = acl.headers()
    if not entries:
        return _not_found(index, extra)
    if flag(request, "raw") and not recurse:
        headers = meta_headers(index)
        headers.update(
            {
                "Content-Type": "text/plain",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
            }
        )
        return Response(content=entries[0].value, status_code=200, headers=headers)
    return json_response(
        [e.render() for e in entries], pretty=opts.pretty, index=index, headers=extra
    )


async def _get_keys(request: Request, prefix: str, opts: QueryOptions) -> Response:
    separator = ""
    if "seperator" in request.query_params:  # Consul still honours its old misspelling
        separator = _first(request, "seperator")
    if "separator" in request.query_params:
        separator = _first(request, "separator")
    opts = forward(opts)
    cluster = cluster_of(request)
    store = cluster.store
    authz = _authz(request)
    index, found = await blocking(
        request, cluster, opts, lambda: kvs.list_keys(store, prefix, separator)
    )
    acl = results_filter(request, authz)
    keys = acl.keep(found, _can_read_key)
    extra = acl.headers()
    if not keys and prefix != "":
        return _not_found(index, extra)
    return json_response(keys, pretty=opts.pretty, index=index, headers=extra)


async def _put(request: Request, key: str, opts: QueryOptions) -> Response:
    if key == "":
        raise BadRequest("Missing key name")
    _refuse_conflicting(request, "cas", "acquire", "release")
    op, flags, cas, session = kvs.Op.SET, 0, 0, ""
    if "flags" in request.query_params:
        flags = _parse_uint(_first(request, "flags"))
    if "cas" in request.query_params:
        cas = _parse_uint(_first(request, "cas"))
        op = kvs.Op.CAS
    if "acquire" in request.query_params:
        session, op = _first(request, "acquire"), kvs.Op.LOCK
    if "release" in request.query_params:
        session, op = _first(request, "release"), kvs.Op.UNLOCK
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        kvs.check_value_size(int(declared))
    value = await request.body()
    forward(opts)
    _authz(request).require("key", WRITE, key)
    req = kvs.KVSRequest(op=op, key=key, value=value, flags=flags, index=cas, session=session)
    cluster = cluster_of(request)
    done = kvs.apply(cluster.store, cluster.world.scheduler, req)
    return json_response(True if op is kvs.Op.SET else done, pretty=flag(request, "pretty"))


async def _delete(request: Request, key: str, opts: QueryOptions) -> Response:
    _refuse_conflicting(request, "recurse", "cas")
    op, cas = kvs.Op.DELETE, 0
    if flag(request, "recurse"):
        op = kvs.Op.DELETE_TREE
    elif key == "":
        raise BadRequest("Missing key name")
    if "cas" in request.query_params:
        cas = _parse_uint(_first(request, "cas"))
        op = kvs.Op.DELETE_CAS
    forward(opts)
    authz = _authz(request)
    if op is kvs.Op.DELETE_TREE:
        _require_write_prefix(authz, key)
    else:
        authz.require("key", WRITE, key)
    cluster = cluster_of(request)
    req = kvs.KVSRequest(op=op, key=key, index=cas)
    done = kvs.apply(cluster.store, cluster.world.scheduler, req)
    return json_response(done if op is kvs.Op.DELETE_CAS else True, pretty=flag(request, "pretty"))
