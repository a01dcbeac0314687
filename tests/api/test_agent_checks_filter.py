"""``/v1/agent/checks?filter=``: compiled without field names, so selectors are not vetted up
front; a type error shows only once a check is filtered, and then carries the evaluator prefix
with status 500 like every other filter error (the consul_sim.filter package docstring)."""

from __future__ import annotations

import httpx

PREFIX = "Failed to create boolean expression evaluator: "


def test_type_error_needs_a_check_and_then_carries_the_prefix(client: httpx.Client) -> None:
    r = client.get("/v1/agent/checks", params={"filter": "Status is empty"})
    assert (r.status_code, r.json()) == (200, {})

    r = client.put("/v1/agent/check/register", json={"Name": "mem", "TTL": "10s"})
    assert r.status_code == 200, r.text

    r = client.get("/v1/agent/checks", params={"filter": "Status is empty"})
    assert (r.status_code, r.text) == (
        500,
        PREFIX + 'Invalid match operator "Is Empty" for selector "Status"',
    )


def test_unknown_selector_is_not_refused(client: httpx.Client) -> None:
    client.put("/v1/agent/check/register", json={"Name": "mem", "TTL": "10s"})

    r = client.get("/v1/agent/checks", params={"filter": "Nope == 1"})

    assert (r.status_code, r.json()) == (200, {})


def test_syntax_error_carries_the_prefix(client: httpx.Client) -> None:
    r = client.get("/v1/agent/checks", params={"filter": "Status =="})

    assert r.status_code == 500
    assert r.text.startswith(PREFIX + "1:10 (9): no match found, expected: ")
