"""The topic table: every Kafka topic Weitao uses, defined once.

`python -m shared.topics create` creates the missing ones with explicit partition counts.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.config import Env


@dataclass(frozen=True)
class Topic:
    """A Kafka topic. What it carries, and under which key, the contracts that name it
    say (shared.events: each contract's TOPIC and key())."""

    name: str


# producer -> consumers of each topic
ACCOUNTS = Topic("weitao.accounts.v1")  # accounts -> publishing, fanout, feedread
FOLLOWS = Topic("weitao.follows.v1")  # accounts -> fanout, feedread
POSTS = Topic("weitao.posts.v1")  # publishing -> fanout, feedread
INTERACTIONS = Topic("weitao.interactions.v1")  # publishing -> insights
FANOUT_WORK = Topic("weitao.fanout-work.v1")  # fanout -> fanout (chunks and sweeps)
FEED_REQUESTS = Topic("weitao.feed-requests.v1")  # feedread -> fanout
ENGAGEMENT = Topic("weitao.engagement.v1")  # feedread (POST /v1/events) -> insights
# every consumer loop (shared/kafka/) -> operators (python -m shared.deadletters)
DEAD_LETTERS = Topic("weitao.dead-letters.v1")

ALL_TOPICS: tuple[Topic, ...] = (
    ACCOUNTS,
    FOLLOWS,
    POSTS,
    INTERACTIONS,
    FANOUT_WORK,
    FEED_REQUESTS,
    ENGAGEMENT,
    DEAD_LETTERS,
)


async def create_topics(bootstrap: str, partitions: int) -> list[str]:
    """Creates every topic of the table that does not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in ALL_TOPICS if t.name not in existing]
        if wanted:
            try:
                await admin.create_topics(
                    [
                        NewTopic(t.name, num_partitions=partitions, replication_factor=1)
                        for t in wanted
                    ]
                )
            except TopicAlreadyExistsError:
                pass  # a concurrent creator won the race: fine
        return [t.name for t in wanted]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    """`create`: creates the missing topics; argv defaults to sys.argv[1:]."""
    parser = argparse.ArgumentParser(prog="python -m shared.topics", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="create the topics of the table that do not exist")
    parser.parse_args(argv)
    env = Env.from_os()
    created = asyncio.run(
        create_topics(env.str("WEITAO_KAFKA_BOOTSTRAP"), env.int("WEITAO_TOPIC_PARTITIONS"))
    )
    for name in created:
        print(f"[stack] created topic {name}")


if __name__ == "__main__":
    main()
