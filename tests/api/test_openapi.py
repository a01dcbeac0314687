"""GET /openapi.json and /docs: the simulator describes every route it serves."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from consul_sim.api.inprocess import front_door
from consul_sim.world import Cluster, World

SIMULATOR_PAGES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/ui", "/"}


@pytest.fixture
def document(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    return body


def _served_routes(world: World, cluster: Cluster) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every route the app routes, into included routers."""
    from consul_sim.api.openapi import openapi_path, walk_routes

    app = front_door(world).app(cluster)
    out: set[tuple[str, str]] = set()
    for route in walk_routes(app.routes):
        path = getattr(route, "path", "")
        if path in SIMULATOR_PAGES:
            continue
        spec = getattr(route.endpoint, "consul_openapi", None)  # type: ignore[attr-defined]
        methods = spec[1] if spec else {"<undocumented>": None}
        out |= {(openapi_path(path)[0], m.lower()) for m in methods}
    return out


def test_document_describes_every_route_the_cluster_serves(
    world: World, dc1: Cluster, document: dict[str, Any]
) -> None:
    documented = {(p, m) for p, ops in document["paths"].items() for m in ops}
    assert documented == _served_routes(world, dc1)
    assert len(documented) == 170
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "consul-sim dc1"
    assert not any("openapi" in p or p.startswith("/v1/docs") for p in document["paths"])


def test_bodies_are_the_models_the_handlers_decode(document: dict[str, Any]) -> None:
    def body(path: str, method: str) -> Any:
        return document["paths"][path][method]["requestBody"]["content"]["application/json"]

    assert body("/v1/agent/service/register", "put")["schema"] == {
        "$ref": "#/components/schemas/ServiceDefinition"
    }
    assert body("/v1/catalog/register", "put")["schema"] == {
        "$ref": "#/components/schemas/RegisterRequest"
    }
    config = body("/v1/config", "put")["schema"]
    assert config["discriminator"]["propertyName"] == "Kind"
    assert set(config["discriminator"]["mapping"]) == {
        "exported-services",
        "mesh",
        "proxy-defaults",
        "service-defaults",
        "service-intentions",
    }
    service = document["components"]["schemas"]["ServiceDefinition"]
    assert {"Name", "ID", "Port", "Checks", "TaggedAddresses"} <= set(service["properties"])


def test_parameters_and_answers_say_what_consul_parses(document: dict[str, Any]) -> None:
    nodes = document["paths"]["/v1/catalog/nodes"]["get"]
    names = {p["name"] for p in nodes["parameters"]}
    assert {"dc", "index", "wait", "stale", "consistent", "filter", "node-meta"} <= names
    assert nodes["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert nodes["responses"]["400"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert set(nodes["responses"]) == {"200", "400", "403", "500"}
    kv = document["paths"]["/v1/kv/{key}"]
    assert set(kv) == {"get", "put", "delete"}
    assert kv["get"]["parameters"][0] == {
        "name": "key",
        "in": "path",
        "required": True,
        "description": "the `key` path segment (may hold slashes)",
        "schema": {"type": "string"},
    }
    assert set(kv["get"]["responses"]["200"]["content"]) == {"application/json", "text/plain"}
    assert "content" not in kv["get"]["responses"]["404"]
    assert "application/octet-stream" in kv["put"]["requestBody"]["content"]
    health = document["paths"]["/v1/agent/health/service/id/{service_id}"]["get"]
    assert {"200", "429", "503", "404"} <= set(health["responses"])


def test_swagger_page_points_at_the_document(client: httpx.Client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "url: '/openapi.json'" in r.text


def test_document_is_not_a_consul_route(client: httpx.Client) -> None:
    r = client.get("/v1/openapi.json")
    assert (r.status_code, r.text) == (
        404,
        "Invalid URL path: not a recognized HTTP API endpoint",
    )
    r = client.put("/openapi.json")
    assert r.status_code == 405
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


def test_document_is_built_on_first_request_not_with_the_app(world: World, dc1: Cluster) -> None:
    assert dc1.client.get("/v1/status/leader").status_code == 200
    app = front_door(world).app(dc1)
    assert app.openapi_schema is None
    first = dc1.client.get("/openapi.json").json()
    assert app.openapi_schema is not None
    assert dc1.client.get("/openapi.json").json() == first
