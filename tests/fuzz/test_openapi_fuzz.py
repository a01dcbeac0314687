"""Schemathesis against a served cluster: every answer must be one Consul would give.

The document is the cluster's own ``/openapi.json``; the run serves a wall-clock world on
loopback and checks each response against it (documented status, media type and body schema)
and against Consul's error contract (a 4xx/5xx is a plain-text sentence, never a traceback,
Starlette's last-resort ``Internal Server Error`` or FastAPI's JSON ``detail``). A dropped
connection fails the call itself.

Left out on purpose, each for a reason of Consul's:

* ``not_a_server_error``: Consul answers 500 for what its server RPC refuses (an unknown
  ``?dc``, a bad ``?filter``, a refused config entry); :func:`consul_worded_errors` holds those
  to Consul's form instead.
* ``positive_data_acceptance`` / ``negative_data_rejection``: a schema-valid body can still be
  refused for what it means (a service with no name), and Go's decoder accepts what a JSON
  Schema cannot say (keys in any case, numbers for durations), so neither is an error.
* ``POST /_sim/crash``: a crashed cluster stops answering its peers for the rest of the run.
* ``GET /v1/agent/monitor``: a valid call streams until the client hangs up, which a
  whole-body read never does (its 400 and 403 are tested in ``tests/api/test_agent_ops.py``).

Blocking reads are bounded: a case that sends ``?index`` waits ``1ms``, not Consul's five
minutes. The budget is the ``ci`` profile's (derandomized); ``make fuzz`` runs ``deep``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from consul_sim.server import ServedWorld
from consul_sim.world import World
from tests.budgets import scaled

pytestmark = pytest.mark.slow


def _document() -> dict[str, Any]:
    """The document as a client reads it, from an in-process cluster (no socket at import)."""
    world = World(clock="virtual", seed=9)
    try:
        response = world.add_cluster("dc1").client.get("/openapi.json")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document
    finally:
        world.close()


schema = (
    schemathesis.openapi.from_dict(_document())
    .exclude(path="/_sim/crash")
    .exclude(path="/v1/agent/monitor")
)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    world = World(clock="wall", seed=9)
    world.add_cluster("dc1")
    world.add_cluster("dc2")
    server = ServedWorld(world, {"dc1": 0}).start()
    try:
        yield server.url("dc1")
    finally:
        server.stop()
        world.close()


def _header(response: Any, name: str) -> str:
    values = response.headers.get(name.lower()) or [""]
    return str(values[0])


def consul_worded_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """Consul's errors are its sentence as plain text; a 5xx always says something."""
    text = response.content.decode("utf-8", "replace") if response.content else ""
    assert "Traceback" not in text, "a traceback reached the client"
    if response.status_code < 400:
        return None
    media = _header(response, "content-type")
    assert not text.startswith('{"detail"'), f"FastAPI's JSON error, not Consul's: {text[:200]}"
    if response.status_code >= 500:
        assert text.strip(), "a 5xx with no sentence"
        assert text != "Internal Server Error", "Starlette's last-resort 500, not Consul's"
        assert media.startswith("text/plain"), f"a 5xx as {media!r}, not plain text"
    return True


def content_type_unless_empty(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis's media-type check, except for an empty body with no type: Consul sends
    those (go-cleanhttp's printable-path 400, a KV miss's 404) and declares nothing."""
    if not response.content and not _header(response, "content-type"):
        return None
    return content_type_conformance(ctx, response, case)


@schema.parametrize()
@scaled(2)
def test_every_answer_is_a_modelled_consul_answer(case: Any, served: str) -> None:
    if case.query and "index" in case.query:
        case.query["wait"] = "1ms"
    response = case.call(base_url=served, timeout=10)
    case.validate_response(
        response,
        excluded_checks=[
            not_a_server_error,
            negative_data_rejection,
            positive_data_acceptance,
            content_type_conformance,
        ],
        additional_checks=[consul_worded_errors, content_type_unless_empty],
    )
