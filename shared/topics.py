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
    name: str
    key: str  # which entity's id is the message key (ordering is per key)
    producer: str
    consumers: tuple[str, ...]
    payload: str


ACCOUNTS = Topic(
    "weitao.accounts.v1",
    "account_id",
    "accounts",
    ("publishing", "fanout", "feedread"),
    "account.created / account.suspended / account.unsuspended: the account snapshot",
)
FOLLOWS = Topic(
    "weitao.follows.v1",
    "account_id (the followed)",
    "accounts",
    ("fanout", "feedread"),
    "follow.created / follow.removed: user_id, account_id, source, version",
)
POSTS = Topic(
    "weitao.posts.v1",
    "account_id (the author)",
    "publishing",
    ("fanout", "feedread"),
    "post.published (the post) / post.deleted (post_id, account_id)",
)

INTERACTIONS = Topic(
    "weitao.interactions.v1",
    "post_id",
    "publishing",
    ("insights",),
    "post.interaction: a like, unlike, comment, comment removal or vote on a post",
)
FANOUT_WORK = Topic(
    "weitao.fanout-work.v1",
    "post id and chunk number",
    "fanout",
    ("fanout",),
    "fanout.chunk: one slice of a big post's followers (a user id range) to push it to; "
    "feed.sweep: one slice of a big account's followers to take its posts out of "
    "(suspension) or put them back into (reinstatement)",
)
FEED_REQUESTS = Topic(
    "weitao.feed-requests.v1",
    "user_id",
    "feedread",
    ("fanout",),
    "feed.rebuild_requested: a returning user whose feed fanout should materialize",
)
ENGAGEMENT = Topic(
    "weitao.engagement.v1",
    "account_id",
    "feedread (POST /v1/events)",
    ("insights",),
    "engagement.recorded: one user action (impression, view, dwell, click, ...) on an account",
)
DEAD_LETTERS = Topic(
    "weitao.dead-letters.v1",
    "consumer group (one group's dead letters stay in order)",
    "every consumer loop (shared/kafka/)",
    ("operators: python -m shared.deadletters",),
    "an event a group gave up on: its own bytes, with group, source, key and error in headers",
)

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
