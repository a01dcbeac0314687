"""/ui/: a live dashboard of the whole simulated world, on every served cluster's port.

Consul serves its own web UI under ``/ui/`` (``agent/uiserver``); ours takes the same place but
shows what Consul's cannot: every cluster of the world at once, the peerings between them as
coloured links, the network's journal as it is written, and buttons for the ``/_sim/`` faults.
It is static files shipped in the package (HTML, CSS, plain JavaScript drawing inline SVG): no
build step and nothing fetched from the network, so it works on a classroom laptop offline. The
page reads ``/_sim/stream`` (:mod:`consul_sim.api.stream`) and calls the ``/_sim/`` controls.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

UI_DIR = Path(__file__).with_name("ui_static")
UI_PATH = "/ui"


async def index(request: Request) -> Response:
    """``/``: Consul's ``Index`` handler (``agent/http.go``) sends a browser on to the UI with a
    301 when the UI is enabled, as it is in dev mode; the body is what Go's ``http.Redirect``
    writes for a GET or HEAD."""
    body = (
        b'<a href="/ui/">Moved Permanently</a>.\n\n' if request.method in ("GET", "HEAD") else b""
    )
    headers = {"Location": "/ui/"}
    return Response(body, 301, headers=headers, media_type="text/html; charset=utf-8")


def mount(app: FastAPI) -> None:
    """Serve the dashboard: ``/ui/`` is its page (``/ui`` redirects there, as Consul's does)."""
    app.mount(UI_PATH, StaticFiles(directory=UI_DIR, html=True), name="ui")
    app.add_route("/", index, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
