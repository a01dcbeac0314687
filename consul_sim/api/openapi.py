"""The OpenAPI description of a cluster's HTTP API, built from what each route declares.

Consul publishes no OpenAPI document of its own; its route table is ``agent/http_register.go``
and its parameters are read by hand in each handler (``parseWait``, ``parseConsistency``,
``parseDC``, ``parseFilter`` in ``agent/http.go``). The simulator's handlers do the same, so
FastAPI cannot infer anything from their signatures (they take the raw ``Request``, and must:
FastAPI's own validation would answer 422 JSON where Consul answers a plain-text 400). Instead
each :meth:`ConsulRouter.endpoint` names its operation with an :class:`Op` (query parameters,
the pydantic model its body decodes into, the answers it gives), and :func:`build` walks the
app's routes once, on the first ``GET /openapi.json``, and writes the document from them.

Nothing here runs when an app is created: the ``Op`` values are plain data and the body models'
JSON Schemas (pydantic builds them on demand) are made only when the document is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

Schema = dict[str, Any]

SPEC_ATTR = "consul_openapi"
"""The attribute a route's endpoint function carries its operations under."""

JSON = "application/json"
TEXT = "text/plain"

STRING: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
NUMBER: Schema = {"type": "number", "minimum": 0}
OBJECT: Schema = {"type": "object"}
ANY: Schema = {}
STRINGS: Schema = {"type": "array", "items": STRING}
OBJECTS: Schema = {"type": "array", "items": OBJECT}
STRING_MAP: Schema = {"type": "object", "additionalProperties": STRING}
UINT64: Schema = {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}


@dataclass(frozen=True)
class Param:
    """One query (or header) parameter as a handler reads it."""

    name: str
    description: str
    schema: Schema = field(default_factory=lambda: dict(STRING))
    required: bool = False
    location: str = "query"
    repeated: bool = False
    """Read with ``getlist``: ``?tag=a&tag=b``."""
    flag: bool = False
    """A presence flag (``?recurse``): any value, the empty one included, turns it on."""

    def render(self) -> Schema:
        schema = {"type": "array", "items": self.schema} if self.repeated else self.schema
        out: Schema = {
            "name": self.name,
            "in": self.location,
            "required": self.required,
            "description": self.description,
            "schema": schema,
        }
        if self.flag:
            out["allowEmptyValue"] = True
        if self.repeated:
            out["style"] = "form"
            out["explode"] = True
        return out


@dataclass(frozen=True)
class Answer:
    """One documented response: its status, what it means, and its body's media type."""

    status: int
    description: str
    media: str | None = JSON
    schema: Schema = field(default_factory=dict)
    alternatives: tuple[tuple[str, Schema], ...] = ()
    """Other media types the same status may come in (``?format=text``, ``?pem``)."""

    def render(self) -> Schema:
        out: Schema = {"description": self.description}
        content = {media: {"schema": schema} for media, schema in self.alternatives}
        if self.media is not None:
            content = {self.media: {"schema": self.schema}, **content}
        if content:
            out["content"] = content
        return out


def ok(schema: Schema, description: str = "the answer, as JSON") -> Answer:
    return Answer(200, description, JSON, schema)


EMPTY_OK = Answer(200, "done; the body is empty", None)

_ERROR_MEANINGS = {
    400: "Consul's sentence for a request it refuses (a bad parameter or body)",
    401: "`ACL support disabled`: the endpoint needs ACLs, which are off",
    403: "an ACL denial or an unknown token, Consul's sentence",
    404: "Consul's sentence for what is not there",
    413: "a value over Consul's size limit, Consul's sentence",
    405: "a path that another route of the same prefix owns, with another method",
    500: "an error from the server RPC (an unknown datacenter, a refused write), as its sentence",
}


def error(status: int, description: str = "") -> Answer:
    """Consul's errors are the bare sentence as plain text (``agent/http.go``)."""
    return Answer(status, description or _ERROR_MEANINGS[status], TEXT, dict(STRING))


# -- the query options Consul's endpoints share (agent/http.go) ---------------------------------
PRETTY = Param("pretty", "pretty-print the JSON answer", flag=True)
DC = Param("dc", "the datacenter to ask; any but this cluster's is Consul's 500")
INDEX = Param("index", "block until the result's index is past this one (a uint64)", dict(UINT64))
WAIT = Param("wait", "how long to block, a Go duration (at most 10m)")
STALE = Param("stale", "allow any server to answer", flag=True)
CONSISTENT = Param("consistent", "force a consistent read", flag=True)
CACHED = Param("cached", "allow the agent cache", flag=True)
MAX_STALE = Param("max_stale", "the staleness a cached answer may have, a Go duration")
FILTER = Param("filter", "a go-bexpr filter expression over the answer's fields")
PEER = Param("peer", "read what was imported from this peer")
NODE_META = Param("node-meta", "only nodes with this `key:value` meta", repeated=True)
TAG = Param("tag", "only instances with every tag given", repeated=True)
NS = Param("ns", "a namespace (Consul Enterprise; CE refuses it)")
PARTITION = Param("partition", "an admin partition (Consul Enterprise; CE refuses it)")
CAS = Param("cas", "check-and-set: apply only at this modify index (a uint64)", dict(UINT64))

ID_ANSWER: Schema = {"type": "object", "properties": {"ID": STRING}}

BLOCKING = (INDEX, WAIT)
READ_OPTIONS = (
    DC,
    *BLOCKING,
    STALE,
    CONSISTENT,
    CACHED,
    MAX_STALE,
    FILTER,
    PEER,
    NODE_META,
    PRETTY,
)
"""What ``query_options`` parses: every catalog-style read takes all of it."""


@dataclass(frozen=True)
class Body:
    """A request body: a pydantic model (its schema is built when the document is) or a
    hand-written JSON Schema, under a media type."""

    model: Any = None
    schema: Schema | None = None
    media: str = JSON
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Op:
    """One operation of a route; ``Op`` values are data, cheap to make at import."""

    summary: str
    query: tuple[Param, ...] = ()
    body: Body | None = None
    answers: tuple[Answer, ...] = (EMPTY_OK,)
    errors: tuple[int, ...] = (400, 403, 500)
    tag: str = ""


MAY_BE_MISSING = (400, 403, 404, 500)
"""The errors of an operation on one named thing, which may not be there."""

Ops = Op | Mapping[str, Op]
"""One operation for every method of a route, or one per method."""


def describe(endpoint: Any, path: str, methods: Iterable[str], doc: Ops) -> None:
    """Attach ``doc`` to a route's endpoint function for :func:`build` to find."""
    methods = tuple(methods)
    per_method = doc if isinstance(doc, Mapping) else {m: doc for m in methods}
    if set(per_method) != set(methods):
        raise ValueError(f"{path}: documented {sorted(per_method)}, routed {sorted(methods)}")
    setattr(endpoint, SPEC_ATTR, (path, dict(per_method)))


# -- building the document ----------------------------------------------------------------------
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def openapi_path(path: str) -> tuple[str, list[str]]:
    """Starlette's ``/v1/kv/{key:kvkey}`` is OpenAPI's ``/v1/kv/{key}``."""
    names = _PATH_PARAM.findall(path)
    return _PATH_PARAM.sub(r"{\1}", path), names


class _Components:
    """Body models' schemas, each once under its own name, referenced from the operations."""

    REF = "#/components/schemas/{model}"

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}

    def schema_for(self, model: Any) -> Schema:
        from pydantic import TypeAdapter

        raw = TypeAdapter(model).json_schema(by_alias=True, ref_template=self.REF)
        for name, sub in raw.pop("$defs", {}).items():
            self.schemas.setdefault(name, _tidy(sub))
        title = raw.get("title")
        if isinstance(title, str) and "properties" in raw:
            self.schemas.setdefault(title, _tidy(raw))
            return {"$ref": self.REF.format(model=title)}
        tidied: Schema = _tidy(raw)
        return tidied


def _tidy(schema: Any) -> Any:
    """Drop pydantic's per-property titles (``Serviceid``): the property names are Consul's."""
    if isinstance(schema, dict):
        out = {k: _tidy(v) for k, v in schema.items()}
        props = out.get("properties")
        if isinstance(props, dict):
            for prop in props.values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
        return out
    if isinstance(schema, list):
        return [_tidy(v) for v in schema]
    return schema


def _operation(
    op: Op, method: str, path_params: list[str], op_id: str, components: _Components
) -> Schema:
    params = [
        Param(name, f"the `{name}` path segment (may hold slashes)", location="path", required=True)
        for name in path_params
    ]
    out: Schema = {
        "operationId": op_id,
        "summary": op.summary,
        "tags": [op.tag] if op.tag else [],
        "parameters": [p.render() for p in (*params, *op.query)],
    }
    if op.body is not None:
        body = op.body
        schema = components.schema_for(body.model) if body.model is not None else body.schema
        out["requestBody"] = {
            "required": body.required,
            "description": body.description,
            "content": {body.media: {"schema": schema or {}}},
        }
    responses: dict[str, Schema] = {}
    for answer in op.answers:
        responses[str(answer.status)] = answer.render()
    for status in op.errors:
        responses.setdefault(str(status), error(status).render())
    if path_params:
        responses.setdefault("405", error(405).render())
    out["responses"] = responses
    return out


def walk_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, into included routers: FastAPI (0.120 on) keeps an included router as one
    entry that points at the original (our routers take no prefix, so paths are as declared)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from walk_routes(original.routes)
        else:
            yield route


def build(routes: Iterable[BaseRoute], title: str, version: str) -> Schema:
    """The OpenAPI 3.1 document for every route that declared its operations."""
    components = _Components()
    paths: dict[str, dict[str, Schema]] = {}
    for route in walk_routes(routes):
        declared = getattr(getattr(route, "endpoint", None), SPEC_ATTR, None)
        if declared is None:
            continue
        raw_path, per_method = declared
        path, names = openapi_path(raw_path)
        tag = raw_path.strip("/").split("/")[1] if raw_path.startswith("/v1/") else "simulator"
        for method, op in per_method.items():
            op_id = re.sub(r"[^A-Za-z0-9]+", "_", f"{method} {path}").strip("_").lower()
            op = op if op.tag else replace(op, tag=tag)
            paths.setdefault(path, {})[method.lower()] = _operation(
                op, method, names, op_id, components
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "A simulated Consul cluster: Consul's HTTP API (`/v1/...`), with Consul's "
                "statuses and plain-text error sentences, and the simulator's own `/_sim/...` "
                "controls. A token goes in `X-Consul-Token`, `Authorization: Bearer`, or "
                "`?token=`."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(components.schemas.items()))},
    }
