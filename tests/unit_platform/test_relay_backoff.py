"""The outbox relay's pause between polls (`OutboxRelay.next_wait`): back to the poll interval
after a poll that published, doubling up to the idle interval after polls that found nothing.
The pause policy only; the relay's publishing is tested against the real broker in
tests/test_event_bus.py."""

from __future__ import annotations

from typing import Any

from shared.outbox import OutboxRelay


def relay(**kw: Any) -> OutboxRelay:
    return OutboxRelay(None, "reporting", None, **kw)  # type: ignore[arg-type]


def test_an_idle_relay_backs_off_to_the_idle_interval_and_returns_at_once() -> None:
    r = relay(poll_interval=0.05, idle_interval=0.25)
    waits, wait = [], r.poll_interval
    for _ in range(5):
        wait = r.next_wait(wait, 0)
        waits.append(wait)
    assert waits == [0.1, 0.2, 0.25, 0.25, 0.25]
    assert r.next_wait(wait, 3) == 0.05


def test_without_an_idle_interval_the_relay_polls_at_its_interval() -> None:
    r = relay(poll_interval=0.05)
    assert r.next_wait(0.05, 0) == 0.05
    # an idle interval shorter than the poll interval is the poll interval
    assert relay(poll_interval=0.05, idle_interval=0.01).next_wait(0.05, 0) == 0.05
