"""What every reader's feed must hold, from Postgres truth, and how far the served feeds
are from it: posts lost, entries doubled, posts served that must be gone."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from bench.client import WeitaoClient
from tests.faults import all_feed_ids


@dataclass
class Verdict:
    """The served feeds against the truth, summed over the readers."""

    expected: int = 0  # (reader, post) pairs that must be served
    lost: list[tuple[str, str]] = field(default_factory=list)  # must be served, is not
    doubled: list[tuple[str, str]] = field(default_factory=list)  # served twice
    wrongly_served: list[tuple[str, str]] = field(default_factory=list)  # must be gone

    @property
    def clean(self) -> bool:
        return not (self.lost or self.doubled or self.wrongly_served)


async def expected_feeds(dsn: str, readers: list[str], feed_cap: int) -> dict[str, set[str]]:
    """Per reader: the undeleted posts of the accounts it follows now that are not
    suspended, the `feed_cap` newest (the accounts' own tables: the sources of truth)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT f.user_id, p.id FROM accounts.follows f "
            "JOIN accounts.accounts a ON a.id = f.account_id AND a.status = 'active' "
            "JOIN publishing.posts p ON p.account_id = f.account_id AND p.deleted_at IS NULL "
            "WHERE f.active AND f.user_id = ANY($1::bigint[]) ORDER BY p.id DESC",
            [int(r) for r in readers],
        )
    finally:
        await conn.close()
    expected: dict[str, set[str]] = {r: set() for r in readers}
    for row in rows:
        posts = expected[str(row["user_id"])]
        if len(posts) < feed_cap:
            posts.add(str(row["id"]))
    return expected


async def judge(api: WeitaoClient, dsn: str, readers: list[str], feed_cap: int) -> Verdict:
    """Reads every reader's whole feed and holds it against the truth."""
    expected = await expected_feeds(dsn, readers, feed_cap)
    verdict = Verdict()
    for reader in readers:
        served = await all_feed_ids(api, reader)
        must = expected[reader]
        verdict.expected += len(must)
        verdict.lost += [(reader, p) for p in must - set(served)]
        verdict.wrongly_served += [(reader, p) for p in set(served) - must]
        verdict.doubled += [(reader, p) for p in set(served) if served.count(p) > 1]
    return verdict
