"""The intention decision against a small independent model of Consul's precedence rules."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consul_sim.config.intentions import decide, flatten
from consul_sim.config.validate import normalize
from consul_sim.models.config_entries import ServiceIntentionsConfigEntry

NAMES = ["*", "web", "api", "db"]
PEERS = ["", "p1", "p2"]

source = st.fixed_dictionaries(
    {
        "Name": st.sampled_from(NAMES),
        "Peer": st.sampled_from(PEERS),
        "Action": st.sampled_from(["allow", "deny"]),
    }
)


def unique_sources(sources: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for s in sources:
        if (s["Name"], s["Peer"]) not in seen:
            seen.add((s["Name"], s["Peer"]))
            out.append(s)
    return out


intention_sets = st.dictionaries(
    st.sampled_from(NAMES), st.lists(source, min_size=1, max_size=6).map(unique_sources)
)


def model_allowed(entries: dict[str, list[dict[str, str]]], src: str, peer: str, dst: str) -> bool:
    """Exact destination beats wildcard destination; within it, exact source beats `*`;
    a source matches only callers from its own peer; nothing matching allows."""
    for dest_name in (dst, "*"):
        sources = [s for s in entries.get(dest_name, []) if s["Peer"] == peer]
        for src_name in (src, "*"):
            for s in sources:
                if s["Name"] == src_name:
                    return s["Action"] == "allow"
    return True


def build(entries: dict[str, list[dict[str, str]]]) -> list[Any]:
    built = []
    for name, sources in entries.items():
        entry = ServiceIntentionsConfigEntry.model_validate(
            {"Name": name, "Sources": [{k: v for k, v in s.items() if v} for s in sources]}
        )
        normalize(entry)
        built.append(entry)
    return built


@given(
    entries=intention_sets,
    src=st.sampled_from(NAMES[1:]),
    peer=st.sampled_from(PEERS),
    dst=st.sampled_from(NAMES[1:]),
)
def test_decision_matches_precedence_model(
    entries: dict[str, list[dict[str, str]]], src: str, peer: str, dst: str
) -> None:
    decision = decide(flatten(build(entries)), src, dst, peer)
    assert decision.allowed == model_allowed(entries, src, peer, dst)
