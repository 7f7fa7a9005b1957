"""Replaying a dead-letter topic: each message goes back to the topic it came from, with its
original key and CloudEvents headers, so the consumer applies it (once) after the fix.

Only what the topic held when the replay started is replayed: a message that fails again is
dead-lettered again and waits for the next replay instead of circling forever."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.kafka import make_producer
from shared.settings import Settings
from shared.topics import dead_letter_topic


async def replay(settings: Settings, consumer_name: str, *, limit: int | None = None) -> int:
    topic = dead_letter_topic(consumer_name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{consumer_name}.dlt-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - topic just created
            partitions = [TopicPartition(topic, p)
                          for p in (consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        remaining = {tp for tp in partitions if end[tp] > await consumer.position(tp)}
        while remaining and (limit is None or replayed < limit):
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=200)
            for tp, records in batches.items():
                last = None
                for record in records:
                    if record.offset >= end[tp] or (limit is not None and replayed >= limit):
                        break
                    headers = dict(record.headers or ())
                    target = headers.get("dlt_topic", b"").decode()
                    if target:
                        kept = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlt_")]
                        await producer.send_and_wait(target, value=record.value, key=record.key,
                                                     headers=kept)
                        replayed += 1
                    last = record
                if last is not None:
                    await consumer.commit({tp: last.offset + 1})
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            await asyncio.sleep(0)
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed
