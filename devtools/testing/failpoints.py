"""`canbao serve` with fail points armed, for the fault suite: the process kills itself
(SIGKILL, as the kernel's OOM killer or a pulled plug would) at an exact point of the event
bus that a signal sent from outside could only hit by luck.

    CANBAO_FAILPOINTS='{"kill_after_inbox_commit": {"consumer": "reporting", "batch": 2}}' \
        python -m devtools.testing.failpoints serve reporting

Fail points (JSON object, any combination):

`kill_after_inbox_commit`: {"consumer", "batch", "record"}: once the consumer has committed
its `batch`-th database transaction that applied new events, die before the Kafka offsets
of that batch are committed. The batch's event ids are written to `record` first.

`kill_relay_mid_batch`: {"after_sends", "record"}: in a relay batch of at least
`after_sends` events, publish its first `after_sends` (`OutboxRelay.publish`, which returns
once the broker has acknowledged them), then die before the rest of the batch is sent and
before any of it is marked sent. `record` receives the ids of the acknowledged events.

The production code is untouched: the fail points wrap its methods in this process only.
"""

from __future__ import annotations

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


def arm_kill_relay_mid_batch(after_sends: int, record: str | None = None) -> None:
    from shared.outbox import OutboxRelay

    original = OutboxRelay.publish

    async def publish(self: OutboxRelay, rows: Any) -> Any:
        if len(rows) < after_sends:
            return await original(self, rows)
        sent, failed = await original(self, rows[:after_sends])  # acknowledged by the broker
        assert not failed, failed
        _die(record, {"acknowledged": len(sent),
                      "event_ids": [str(r.event_id) for r in rows[:after_sends]]})
        return sent, failed

    OutboxRelay.publish = publish  # type: ignore[method-assign]


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
