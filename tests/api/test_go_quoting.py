"""Handlers whose errors quote user input: the text is Go's full ``%q``, control bytes and
unprintable runes included (the partial quoting copies these handlers had missed them)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("%01", '"\\x01"'),
        ("%C2%AD", '"\\u00ad"'),
        ("a%22b%5C", '"a\\"b\\\\"'),
        ("%E6%97%A5", '"日"'),
    ],
)
def test_node_maintenance_quotes_a_bad_enable_like_go(
    client: httpx.Client, raw: str, quoted: str
) -> None:
    r = client.put(f"/v1/agent/maintenance?enable={raw}")

    assert (r.status_code, r.text) == (400, f"Invalid value for enable: {quoted}")


def test_kv_flags_parse_error_is_go_parseuint_text(client: httpx.Client) -> None:
    r = client.put("/v1/kv/k?flags=1_0", content=b"v")

    assert (r.status_code, r.text) == (500, 'strconv.ParseUint: parsing "1_0": invalid syntax')
