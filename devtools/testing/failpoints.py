"""`canbao serve` with fail points armed, for the fault suite: the process kills itself
(SIGKILL, as the kernel's OOM killer or a pulled plug would) at an exact point of the event
bus that a signal sent from outside could only hit by luck.

    CANBAO_FAILPOINTS='{"kill_after_inbox_commit": {"consumer": "reporting", "batch": 2}}' \
        python -m devtools.testing.failpoints serve reporting

Fail points (JSON object, any combination):

`kill_after_inbox_commit`: {"consumer", "batch", "record"}: once the consumer has committed
its `batch`-th database transaction that applied new events, die before the Kafka offsets
of that batch are committed. The batch's event ids are written to `record` first.

`kill_relay_mid_batch`: {"after_sends", "record"}: when one relay batch has handed
`after_sends` events to the producer, wait until the broker has acknowledged them, then die
before the rest of the batch is sent and before any of it is marked sent. `record` receives
the ids of the acknowledged events.

The production code is untouched: the fail points wrap its methods in this process only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

ENV = "CANBAO_FAILPOINTS"


def _die(record: str | None, payload: dict[str, Any]) -> None:
    if record:
        tmp = Path(record + ".tmp")
        tmp.write_text(json.dumps(payload))
        tmp.replace(record)
    os.kill(os.getpid(), signal.SIGKILL)


def arm_kill_after_inbox_commit(consumer: str, batch: int, record: str | None = None) -> None:
    from shared.inbox import InboxConsumer

    original = InboxConsumer._apply
    state = {"batches": 0}

    async def _apply(self: InboxConsumer, items: Any) -> None:
        before = self.applied
        await original(self, items)  # the inbox transaction has committed when this returns
        if self.name == consumer and self.applied > before:
            state["batches"] += 1
            if state["batches"] >= batch:
                _die(record, {"consumer": consumer, "batch": state["batches"],
                              "event_ids": [i.event.id for i in items],
                              "offsets": [[i.record.topic, i.record.partition, i.record.offset]
                                          for i in items]})

    InboxConsumer._apply = _apply  # type: ignore[method-assign]


class _CountingProducer:
    """Stands in for the relay's producer during one batch."""

    def __init__(self, producer: Any, after_sends: int, record: str | None) -> None:
        self.producer = producer
        self.after_sends = after_sends
        self.record = record
        self.futures: list[asyncio.Future[Any]] = []
        self.headers: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.producer, name)

    async def send(self, topic: str, **kwargs: Any) -> asyncio.Future[Any]:
        future = await self.producer.send(topic, **kwargs)
        self.futures.append(future)
        self.headers.append(kwargs.get("headers") or ())
        if len(self.futures) >= self.after_sends:
            await asyncio.gather(*self.futures)  # acknowledged by the broker
            ids = [dict(h).get("ce_id", b"").decode() for h in self.headers]
            _die(self.record, {"acknowledged": len(self.futures), "event_ids": ids})
        return future


def arm_kill_relay_mid_batch(after_sends: int, record: str | None = None) -> None:
    from shared.outbox import OutboxRelay

    original = OutboxRelay.run_once

    async def run_once(self: OutboxRelay) -> int:
        real = self.producer
        self.producer = _CountingProducer(real, after_sends, record)  # type: ignore[assignment]
        try:
            return await original(self)
        finally:
            self.producer = real

    OutboxRelay.run_once = run_once  # type: ignore[method-assign]


def arm_from_env() -> None:
    spec = json.loads(os.environ.get(ENV) or "{}")
    if "kill_after_inbox_commit" in spec:
        arm_kill_after_inbox_commit(**spec["kill_after_inbox_commit"])
    if "kill_relay_mid_batch" in spec:
        arm_kill_relay_mid_batch(**spec["kill_relay_mid_batch"])


def main(argv: list[str] | None = None) -> int:
    arm_from_env()
    from services.cli import main as canbao

    return canbao(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
