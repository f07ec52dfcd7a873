"""The dead-letter topic, for operators: what consumer groups gave up on, and its replay.

    python -m shared.deadletters list            every dead letter, and whether it was replayed
    python -m shared.deadletters replay GROUP    sends GROUP's dead letters not replayed yet
                                                 back to the topics they came from, once

Replay re-publishes an event to its own topic, so every group on that topic sees it again.
That is safe because every consumer is idempotent and order-tolerant: projections keep
the highest version, and deleted posts leave tombstones. Which letters a group has had
replayed is kept as the offsets of the consumer group `dead-letters-replay.<GROUP>`.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.config import Env
from shared.events import BadEvent, Envelope
from shared.kafka import DeadLetter, producer, start_with_retry
from shared.topics import DEAD_LETTERS


def replay_group(group: str) -> str:
    """The consumer group whose offsets record which of `group`'s letters were replayed."""
    return f"dead-letters-replay.{group}"


@dataclass(frozen=True)
class Listed:
    """A dead letter as `list` shows it."""

    letter: DeadLetter
    replayed: bool  # already sent back by `replay`


def _consumer(bootstrap: str, group_id: str | None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def _partitions(admin: AIOKafkaAdminClient) -> list[TopicPartition]:
    (topic,) = await admin.describe_topics([DEAD_LETTERS.name])
    return sorted(TopicPartition(DEAD_LETTERS.name, p["partition"]) for p in topic["partitions"])


async def _read_to_end(
    consumer: AIOKafkaConsumer, parts: list[TopicPartition]
) -> list[ConsumerRecord]:
    """The records of `parts` from the consumer group's committed offsets (from the
    beginning without a group or a commit) to the end as of now."""
    consumer.assign(parts)
    ends = await consumer.end_offsets(parts)
    found: list[ConsumerRecord] = []
    while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
        for tp, records in (await consumer.getmany(*parts, timeout_ms=500)).items():
            found.extend(r for r in records if r.offset < ends[tp])
    return found


async def list_letters(bootstrap: str) -> list[Listed]:
    """Every dead letter on the topic, oldest first per partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    consumer = _consumer(bootstrap, None)
    await start_with_retry(consumer, "dead-letters list")
    try:
        records = await _read_to_end(consumer, await _partitions(admin))
        letters = [(r, DeadLetter.from_record(r)) for r in records]
        replayed_to: dict[str, dict[TopicPartition, int]] = {}
        for group in {letter.group for _, letter in letters}:
            offsets = await admin.list_consumer_group_offsets(replay_group(group))
            replayed_to[group] = {tp: meta.offset for tp, meta in offsets.items()}
    finally:
        await consumer.stop()
        await admin.close()
    return [
        Listed(
            letter,
            r.offset < replayed_to[letter.group].get(TopicPartition(r.topic, r.partition), 0),
        )
        for r, letter in letters
    ]


async def replay(bootstrap: str, group: str) -> int:
    """Re-publishes `group`'s dead letters not replayed before; returns how many."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    consumer = _consumer(bootstrap, replay_group(group))
    sender = producer(bootstrap)
    await start_with_retry(consumer, "dead-letters replay")
    await start_with_retry(sender, "dead-letters replay")
    try:
        records = await _read_to_end(consumer, await _partitions(admin))
        mine = [ltr for ltr in map(DeadLetter.from_record, records) if ltr.group == group]
        for letter in mine:
            await sender.send_and_wait(letter.topic, letter.value, key=letter.key)
        # Committed only once all were sent: a crash before this replays them again.
        await consumer.commit()
        return len(mine)
    finally:
        await sender.stop()
        await consumer.stop()
        await admin.close()


def describe(item: Listed) -> str:
    """One line for an operator: state, group, source, event and error."""
    letter = item.letter
    try:
        envelope = Envelope.decode(letter.value or b"")
        event = f"{envelope.type} {envelope.event_id}"
    except BadEvent:
        event = "(undecodable)"
    state = "replayed" if item.replayed else "pending"
    source = f"{letter.topic}/{letter.partition}@{letter.offset}"
    return f"{state:8} {letter.group:16} {source:32} {event}  error: {letter.error}"


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module's docstring); argv defaults to sys.argv[1:]."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.deadletters", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every dead letter, and whether it was replayed")
    replaying = commands.add_parser("replay", help="send GROUP's pending letters back, once")
    replaying.add_argument("group", metavar="GROUP", help="the consumer group that gave up")
    args = parser.parse_args(argv)
    bootstrap = Env.from_os().str("WEITAO_KAFKA_BOOTSTRAP")
    if args.command == "list":
        listed = asyncio.run(list_letters(bootstrap))
        for item in listed:
            print(describe(item))
        pending = sum(not item.replayed for item in listed)
        print(f"{len(listed)} dead letters, {pending} not replayed")
    else:
        count = asyncio.run(replay(bootstrap, args.group))
        print(f"replayed {count} dead letters of group {args.group}")


if __name__ == "__main__":
    main()
