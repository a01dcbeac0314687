"""Domain errors to HTTP, in one place, the way Consul's agent/http.go renders them.

Consul's error bodies are the bare sentence as plain text. FastAPI's own JSON errors (422
validation, 404, 405) never reach a client: they are rewritten here into Consul's forms.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from consul_sim.errors import ConsulError, MethodNotAllowed

NOT_AN_ENDPOINT = "Invalid URL path: not a recognized HTTP API endpoint"


def error_response(err: ConsulError) -> Response:
    headers = {}
    if isinstance(err, MethodNotAllowed):
        headers["Allow"] = err.allow_header
    return Response(
        content=err.message.encode(),
        status_code=err.status_code,
        headers=headers,
        media_type="text/plain; charset=utf-8" if err.message else None,
    )


async def _consul_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsulError)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    return error_response(ConsulError(f"Request decode failed: {exc}", 400))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        if "/v1/" in request.url.path:
            return error_response(ConsulError(NOT_AN_ENDPOINT, 404))
        return Response(b"404 page not found\n", 404, media_type="text/plain; charset=utf-8")
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        methods = tuple(m.strip() for m in allow.split(",") if m.strip() and m.strip() != "OPTIONS")
        return error_response(MethodNotAllowed(request.method, methods))
    return error_response(ConsulError(str(exc.detail), exc.status_code))


_log = logging.getLogger("consul_sim.api")


def unexpected_error_response(request: Request, exc: Exception) -> Response:
    """The last resort: a bug answers the way Consul's ``wrap`` answers an error it has no
    status for (500, the error's text, plain), and the traceback goes to the log, never to
    the client."""
    _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(ConsulError(f"{type(exc).__name__}: {exc}"[:200], 500))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    return unexpected_error_response(request, exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ConsulError, _consul_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
