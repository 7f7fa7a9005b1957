"""Operator commands of the reporting service.

    canbao rebuild-projections   (services/cli_ops.py)

Rebuild throws the projections away and builds them again from the topics: it truncates every
projection table and the consumer's inbox rows, rejoins the `reporting` consumer group and
seeks every partition it is assigned to the beginning (committing that, which resets the
group's offsets), and replays until it has caught up with the end offsets
seen at the start. Staff-recorded reminder reasons are kept. Stop the reporting service first
(a running member of the group would hold the partitions and keep the old offsets).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from services.reporting.projections.handlers import CONSUMER, TOPICS, router
from services.reporting.projections.repository import truncate_projections
from shared.db import make_engine, make_sessionmaker
from shared.inbox import InboxConsumer
from shared.kafka import ensure_topics, make_consumer, make_producer
from shared.settings import Settings, get_settings
from shared.topics import dead_letter_topic

log = logging.getLogger("services.reporting.commands")


@dataclass
class RebuildResult:
    events_applied: int
    duplicates: int
    dead_lettered: int
    seconds: float


class _FromTheBeginning(ConsumerRebalanceListener):
    """Seeks each partition to its beginning the first time the group assigns it to us, so the
    offsets the replay commits replace the group's old ones (no out-of-group offset commit,
    which brokers refuse while the old member's session lingers)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.done: set[TopicPartition] = set()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Any) -> None:
        fresh = [tp for tp in assigned if tp not in self.done]
        if fresh:
            beginning = await self.consumer.beginning_offsets(fresh)
            await self.consumer.seek_to_beginning(*fresh)
            await self.consumer.commit(dict(beginning))
            self.done.update(fresh)


async def end_offsets(settings: Settings, topics: tuple[str, ...]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes metadata
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(consumer.partitions_for_topic(t) or ())]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def rebuild(settings: Settings, limit_seconds: float = 600.0,
                  on_progress: Callable[[int, int], None] | None = None) -> RebuildResult:
    """`on_progress(events read, events in the topics at the start)`, while it replays."""
    started = time.perf_counter()
    await ensure_topics(settings, (*TOPICS, dead_letter_topic(CONSUMER)))
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    producer = make_producer(settings)
    await producer.start()
    try:
        async with sessions() as session, session.begin():
            await truncate_projections(session, CONSUMER)
        end = await end_offsets(settings, TOPICS)
        captured: list[AIOKafkaConsumer] = []
        listeners: list[_FromTheBeginning] = []

        def factory() -> AIOKafkaConsumer:
            consumer = make_consumer(settings, CONSUMER, ())
            listener = listeners[0] if listeners else _FromTheBeginning(consumer)
            listener.consumer = consumer
            listeners[:] = [listener]
            consumer.subscribe(list(TOPICS), listener=listener)
            captured.append(consumer)
            return consumer

        inbox = InboxConsumer(
            name=CONSUMER, schema="reporting", topics=TOPICS, handler=router,
            sessions=sessions, consumer_factory=factory, dlt_producer=producer,
            max_failures=settings.consumer_max_failures, service="reporting",
        )
        stop = asyncio.Event()
        task = asyncio.create_task(inbox.run(stop))
        try:
            deadline = time.monotonic() + limit_seconds
            total = sum(end.values())
            while not await _caught_up(captured, listeners, end):
                if on_progress is not None:
                    on_progress(inbox.applied + inbox.duplicates + inbox.dead_lettered, total)
                if task.done() or time.monotonic() > deadline:
                    raise RuntimeError("replay did not catch up with the topics")
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await task
        return RebuildResult(inbox.applied, inbox.duplicates, inbox.dead_lettered,
                             time.perf_counter() - started)
    finally:
        await producer.stop()
        await engine.dispose()


async def _caught_up(captured: list[AIOKafkaConsumer], listeners: list[_FromTheBeginning],
                     end: dict[TopicPartition, int]) -> bool:
    if not captured or not listeners:
        return False
    consumer = captured[-1]
    for tp, offset in end.items():
        if offset == 0:
            continue
        if tp not in listeners[0].done:
            return False
        try:
            committed = await consumer.committed(tp)
        except Exception:  # not joined yet
            return False
        if committed is None or committed < offset:
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.reporting.commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rebuild", help="rebuild every projection from the topics")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.command == "rebuild":
        result = asyncio.run(rebuild(get_settings()))
        print(f"rebuilt reporting projections: {result.events_applied} events applied, "
              f"{result.duplicates} duplicates, {result.dead_lettered} dead-lettered, "
              f"{result.seconds:.1f}s")


if __name__ == "__main__":
    main()
