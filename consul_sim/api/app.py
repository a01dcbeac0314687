"""The app factory: one FastAPI app per simulated cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from consul_sim.api import (
    agent,
    agent_ops,
    catalog,
    config,
    connect,
    connect_ca,
    errors,
    health,
    kv,
    operator,
    peering,
    peerstream,
    query,
    session,
    sim,
    sim_call,
    status,
    stream,
    ui,
)

if TYPE_CHECKING:
    from consul_sim.world import Cluster


class RunDueTimers:
    """Fire due timers (TTL expiry, heartbeats) before each request sees the state.

    A pure ASGI middleware: Starlette's BaseHTTPMiddleware costs a task per request.
    """

    def __init__(self, app: ASGIApp, cluster: Cluster) -> None:
        self.app = app
        self.cluster = cluster

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.cluster.world.run_due()
        await self.app(scope, receive, send)


class PrintablePathCheck:
    """go-cleanhttp's PrintablePathCheckHandler, which Consul wraps its whole mux in
    (``agent/http.go``, unless ``disable_http_unprintable_char_filter``): a path holding a rune
    Go's ``unicode.IsPrint`` refuses (a newline, a tab, a control byte) is an empty 400 before
    any route is looked up, so a newline in a service ID is not taken for an unknown endpoint.
    Such an ID can be registered from a JSON body but not named in a URL, in Consul as here;
    the listings still show it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].isprintable():
            await Response(status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


OPENAPI_URL = "/openapi.json"
"""The simulator's own path: Consul has none like it, and it stays out of ``/v1/``."""


class ConsulApp(FastAPI):
    """A cluster's app, whose OpenAPI document comes from the routes' own declarations.

    FastAPI would describe only its ``APIRoute``s, and our routes are plain Starlette routes
    whose handlers parse the raw request as Consul does; :mod:`consul_sim.api.openapi` reads
    what each ``ConsulRouter.endpoint`` declared. Built on the first request for it, never when
    the app is made: creating an app stays as cheap as it was."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            from consul_sim.api.openapi import build
            from consul_sim.version import CONSUL_VERSION

            self.openapi_schema = build(self.routes, self.title, CONSUL_VERSION)
        return self.openapi_schema


def create_app(cluster: Cluster) -> FastAPI:
    app = ConsulApp(
        title=f"consul-sim {cluster.name}",
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url=OPENAPI_URL,
    )
    app.state.cluster = cluster
    errors.install(app)
    for module in (catalog, health, agent, kv, status, peering, config, connect, connect_ca):
        app.include_router(module.router)
    app.include_router(sim.router)
    app.include_router(peerstream.router)
    app.include_router(sim_call.router)
    app.include_router(stream.router)
    app.include_router(query.router)
    app.include_router(session.router)
    app.include_router(agent_ops.router)
    app.include_router(operator.router)
    ui.mount(app)
    app.add_middleware(RunDueTimers, cluster=cluster)
    app.add_middleware(PrintablePathCheck)
    return app
