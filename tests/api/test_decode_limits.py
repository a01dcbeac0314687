"""Go's decoding limits: numbers a field cannot hold, nesting past 10,000, request heads past
1 MiB, and the last-resort answer; each refusal exact, and nothing changed by it."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import World
from tests.api.conftest import register

REGISTER = "/v1/catalog/register"
AGENT = "/v1/agent/service/register"
PREFIX = "Request decode failed: "


def _service(extra: str) -> bytes:
    return ('{"Node": "n", "Address": "a", "Service": {"Service": "w", ' + extra + "}}").encode()


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _snapshot(client: httpx.Client) -> tuple[object, ...]:
    return (
        client.get("/v1/catalog/nodes").json(),
        client.get("/v1/catalog/services").json(),
        client.get("/v1/agent/services").json(),
        client.get("/v1/config/proxy-defaults").json(),
        client.get("/v1/catalog/nodes").headers["X-Consul-Index"],
    )


LIMITS = [
    # (path, body, status, exact body)
    (
        REGISTER,
        _service('"Port": 99999999999999999999'),
        400,
        PREFIX + "json: cannot unmarshal number 99999999999999999999 into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        REGISTER,
        _service('"Port": 9223372036854775808'),
        400,
        PREFIX + "json: cannot unmarshal number 9223372036854775808 into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        REGISTER,
        _service('"Port": -9223372036854775809'),
        400,
        PREFIX + "json: cannot unmarshal number -9223372036854775809 into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        REGISTER,
        _service('"Port": 80.0'),
        400,
        PREFIX + "json: cannot unmarshal number 80.0 into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        REGISTER,
        _service('"Port": 1e400'),
        400,
        PREFIX + "json: cannot unmarshal number 1e400 into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        REGISTER,
        _service('"Port": ' + "7" * 5000),
        400,
        PREFIX + "json: cannot unmarshal number " + "7" * 5000 + " into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        REGISTER,
        _service('"Weights": {"Passing": 18446744073709551616}'),
        400,
        PREFIX + "json: cannot unmarshal number 18446744073709551616 into Go struct field "
        "RegisterRequest.Service.Weights.Passing of type int",
    ),
    (
        REGISTER,
        _service('"CreateIndex": -1'),
        400,
        PREFIX + "json: cannot unmarshal number -1 into Go struct field "
        "RegisterRequest.Service.CreateIndex of type uint64",
    ),
    (
        REGISTER,
        _service('"ModifyIndex": 18446744073709551616'),
        400,
        PREFIX + "json: cannot unmarshal number 18446744073709551616 into Go struct field "
        "RegisterRequest.Service.ModifyIndex of type uint64",
    ),
    (
        REGISTER,
        _service('"Proxy": {"Config": {"x": 1e999}}'),
        400,
        PREFIX + "json: cannot unmarshal number 1e999 into Go struct field "
        "RegisterRequest.Service.Proxy of type float64",
    ),
    (
        AGENT,
        b'{"Name": "w", "Port": 99999999999999999999}',
        400,
        PREFIX + "json: cannot unmarshal number 99999999999999999999 into Go struct field "
        ".Port of type int",
    ),
    (
        AGENT,
        b'{"Name": "w", "Check": {"TTL": "10s", "FailuresBeforeCritical": 1e3}}',
        400,
        PREFIX + "json: cannot unmarshal number 1e3 into Go struct field "
        ".Check.FailuresBeforeCritical of type int",
    ),
    (
        AGENT,
        b'{"Name": "w", "Check": {"TTL": 1e400}}',
        400,
        PREFIX + "json: cannot unmarshal number 1e400 into Go struct field .Check.TTL "
        "of type float64",
    ),
    (
        "/v1/config",
        b'{"Kind": "proxy-defaults", "Name": "global", "Config": {"x": 1e400}}',
        400,
        "Request decoding failed: json: cannot unmarshal number 1e400 into Go value of type "
        "float64",
    ),
    (
        "/v1/config",
        b'{"Kind": "service-defaults", "Name": "s", "MaxInboundConnections": -1e309}',
        400,
        "Request decoding failed: json: cannot unmarshal number -1e309 into Go value of type "
        "float64",
    ),
    # Go's grammar has no NaN or Infinity.
    (
        REGISTER,
        _service('"Port": NaN'),
        400,
        PREFIX + "invalid character 'N' looking for beginning of value",
    ),
    (
        REGISTER,
        _service('"Port": -Infinity'),
        400,
        PREFIX + "invalid character 'I' in numeric literal",
    ),
    (
        REGISTER,
        _service('"Port": 1.'),
        400,
        PREFIX + "invalid character '}' after decimal point in numeric literal",
    ),
    (REGISTER, b'{"Node": "n\x01"}', 400, PREFIX + "invalid character '\\x01' in string literal"),
    (REGISTER, b'{"Node": "\\q"}', 400, PREFIX + "invalid character 'q' in string escape code"),
    # Nesting: Go's scanner stops at the 10,001st open bracket.
    (REGISTER, b"[" * 100_000, 400, PREFIX + "invalid character '[' exceeded max depth"),
    (
        REGISTER,
        b'{"Node": "n", "x": ' + b'{"a": ' * 10_001 + b"1" + b"}" * 10_001 + b"}",
        400,
        PREFIX + "invalid character '{' exceeded max depth",
    ),
    (AGENT, _deep(10_001), 400, PREFIX + "invalid character '[' exceeded max depth"),
    # 10,000 deep is valid JSON to Go: the decoder then refuses the type.
    (
        AGENT,
        _deep(10_000),
        400,
        PREFIX + "json: cannot unmarshal array into Go value of type structs.ServiceDefinition",
    ),
    (
        REGISTER,
        b'{"Node": "n", "Address": "a", "NodeMeta": ' + _deep(9_999) + b"}",
        400,
        PREFIX + "json: cannot unmarshal array into Go struct field RegisterRequest.NodeMeta "
        "of type map[string]string",
    ),
    # A free-form value deeper than the simulator can store is refused before it is stored.
    (
        REGISTER,
        _service('"Proxy": {"Config": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"),
        400,
        PREFIX + "invalid character '[' exceeded max depth",
    ),
    (
        "/v1/config",
        b'{"Kind": "proxy-defaults", "Name": "global", "Config": {"x": ' + _deep(5000) + b"}}",
        400,
        "Request decoding failed: invalid character '[' exceeded max depth",
    ),
]


@pytest.mark.parametrize("path, body, status, message", LIMITS)
def test_decode_limit_gets_gos_refusal_and_changes_nothing(
    client: httpx.Client, path: str, body: bytes, status: int, message: str
) -> None:
    register(client, {"Node": "n0", "Address": "10.0.0.9", "Service": {"Service": "web"}})
    before = _snapshot(client)
    r = client.put(path, content=body)
    assert (r.status_code, r.text) == (status, message)
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert _snapshot(client) == before


def test_numbers_at_the_edges_of_go_int64_are_stored_and_read_back(client: httpx.Client) -> None:
    for port in (9223372036854775807, -9223372036854775808):
        body = {"Node": "n", "Address": "a", "Service": {"Service": "w", "Port": port}}
        register(client, body)
        assert client.get("/v1/catalog/service/w").json()[0]["ServicePort"] == port


def test_ignored_field_nested_ten_thousand_deep_in_all_is_accepted(client: httpx.Client) -> None:
    r = client.put(
        REGISTER, content=b'{"Node": "n", "Address": "a", "Junk": ' + _deep(9_999) + b"}"
    )
    assert (r.status_code, r.text) == (200, "true")
    assert [n["Node"] for n in client.get("/v1/catalog/nodes").json()] == ["dc1-server", "n"]


def test_escaped_lone_surrogate_reads_back_as_replacement_character(client: httpx.Client) -> None:
    body = b'{"Node": "n", "Address": "a", "NodeMeta": {"k": "x\\ud800y", "p": "\\ud83d\\ude00"}}'
    r = client.put(REGISTER, content=body)
    assert (r.status_code, r.text) == (200, "true")
    meta = client.get("/v1/catalog/node/n").json()["Node"]["Meta"]
    assert meta == {"k": "x\ufffdy", "p": "\U0001f600"}


def test_a_bug_answers_plain_text_500_and_logs_the_traceback(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from consul_sim.api import catalog

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(catalog, "decode_body", broken)
    with caplog.at_level(logging.ERROR, logger="consul_sim.api"):
        r = client.put(REGISTER, json={"Node": "n", "Address": "a"})
    assert (r.status_code, r.text) == (500, "RuntimeError: simulated bug")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Traceback" not in r.text
    assert any(rec.exc_info and "simulated bug" in str(rec.exc_info[1]) for rec in caplog.records)


# -- the request head --------------------------------------------------------------------------
def _raw_exchange(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
        except ConnectionError:
            pass  # the server answered and closed before reading everything we sent
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionError:
            pass
    return b"".join(chunks)


def _get(path_len: int) -> bytes:
    # "GET /v1/kv/" + key + " HTTP/1.1\r\n" + Host + Connection + CRLF: path_len + 52 bytes.
    return b"GET /v1/kv/" + b"k" * path_len + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.slow
def test_request_head_up_to_go_limit_is_served_and_longer_gets_431() -> None:
    world = World(clock="virtual", seed=7)
    world.add_cluster("dc1")
    served = ServedWorld(world, {"dc1": 0}).start()
    try:
        port = served.ports["dc1"]
        limit = (1 << 20) + 4096
        for path_len in (20_000, limit - 52):
            answer = _raw_exchange(port, _get(path_len))
            assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n"), answer[:100]
        for path_len in (limit - 51, 3 << 20):
            answer = _raw_exchange(port, _get(path_len))
            assert answer == (
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                b"431 Request Header Fields Too Large"
            )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            r = client.get("/v1/catalog/nodes", headers={"X-Big": "b" * 1_000_000})
            assert r.status_code == 200
            assert [n["Node"] for n in r.json()] == ["dc1-server"]
    finally:
        served.stop()
        world.close()


# -- IDs holding CR, LF or NUL --------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1/agent/service/a%0D%0Ab"),
        ("PUT", "/v1/agent/service/deregister/a%0D%0Ab"),
        ("PUT", "/v1/agent/check/pass/c%0A1"),
        ("GET", "/v1/catalog/node/n%00x"),
        ("DELETE", "/v1/config/service-defaults/s%0D"),
        ("GET", "/v1/health/service/w%0A"),
        ("GET", "/v1/no/such/endpoint%0A"),
        ("OPTIONS", "/v1/agent/service/a%0D%0Ab"),
    ],
)
def test_unprintable_path_gets_cleanhttps_empty_400_before_any_route(
    client: httpx.Client, method: str, path: str
) -> None:
    r = client.request(method, path)
    assert (r.status_code, r.content) == (400, b"")


def test_service_id_with_crlf_is_stored_listed_and_unchanged_by_a_path_naming_it(
    client: httpx.Client,
) -> None:
    r = client.put(AGENT, json={"Name": "w", "ID": "a\r\nb", "Port": 80})
    assert (r.status_code, r.text) == (200, "")
    assert client.put("/v1/agent/service/deregister/a%0D%0Ab").status_code == 400
    services = client.get("/v1/agent/services").json()
    assert services["a\r\nb"]["Port"] == 80
    assert [s["ServiceID"] for s in client.get("/v1/catalog/service/w").json()] == ["a\r\nb"]
