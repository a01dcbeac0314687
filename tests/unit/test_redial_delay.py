"""The dialer's wait before its next stream open: Consul's ``peeringRetryTimeout``."""

from __future__ import annotations

from consul_sim.peering.stream import redial_delay


def test_plain_failures_wait_2_4_8_seconds_up_to_64() -> None:
    assert [redial_delay(n) for n in range(1, 9)] == [2, 4, 8, 16, 32, 64, 64, 64]
    assert redial_delay(10_000) == 64


def test_failed_precondition_retries_fast_then_doubles_up_to_8192_ms() -> None:
    waits = [redial_delay(n, "FailedPrecondition") for n in range(1, 13)]
    assert waits == [0.008] * 5 + [0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024]
    assert redial_delay(100, "FailedPrecondition") == 8.192


def test_resource_exhausted_waits_the_fast_maximum() -> None:
    assert redial_delay(1, "ResourceExhausted") == 8.192
