"""Insights' Postgres writes: each batch of events is applied in one transaction that
first claims the events' ids (seen_events), so a redelivered or replayed event changes
nothing, and a purchase counts once per order_id (orders)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from services.insights.domain import POST_COUNTERS, increment_of, shanghai_day
from shared import seen_events
from shared.events import (
    AccountChanged,
    Contract,
    EngagementRecorded,
    FollowChanged,
    PostDeleted,
    PostInteraction,
    PostPublished,
)
from shared.kafka import Identified
from shared.timeutil import from_epoch_ms, parse_rfc3339

USER_DAY_COUNTERS = (
    "impressions",
    "views",
    "dwell_ms",
    "dwell_reports",
    "clicks",
    "favorites",
    "purchases",
    "gmv_cents",
    "shares",
)
SWING_KINDS = ("favorite", "purchase")  # engagement that says "I like this seller"
# A note for the fake-follower judge widens the span already noted for the account.
MERGE_JUDGEMENT = (
    "ON CONFLICT (account_id) DO UPDATE SET "
    "first_at = least(pending_judgement.first_at, EXCLUDED.first_at), "
    "last_at = greatest(pending_judgement.last_at, EXCLUDED.last_at)"
)


def _upsert_adding(table: str, keys: Sequence[str], counters: Sequence[str]) -> str:
    columns = [*keys, *counters]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    adds = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in counters)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    )


UPSERT_USER_DAY = _upsert_adding("user_day", ("account_id", "day", "user_id"), USER_DAY_COUNTERS)
UPSERT_POST_USER = _upsert_adding(
    "post_user", ("post_id", "user_id"), (*POST_COUNTERS, "gmv_cents")
)


class IngestStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def forget_old_event_ids(self, older_than: timedelta) -> int:
        """Drops claims older than `older_than` (longer than Kafka keeps events, so no
        redelivery can bring them back), a bounded batch at a time; how many went."""
        return await seen_events.forget_older_than(self.pool, older_than)

    @staticmethod
    async def _claim(conn: asyncpg.Connection, batch: Sequence[Identified]) -> list[Contract]:
        """The events of `batch` never applied before, in order (claims them)."""
        fresh = {
            r["event_id"]
            for r in await conn.fetch(
                "INSERT INTO seen_events SELECT unnest($1::text[]) "
                "ON CONFLICT DO NOTHING RETURNING event_id",
                sorted(d.event_id for d in batch),
            )
        }
        events = []
        for d in batch:
            if d.event_id in fresh:
                fresh.discard(d.event_id)  # the same envelope twice in one batch counts once
                events.append(d.event)
        return events

    async def apply_engagement(self, batch: Sequence[Identified]) -> set[int]:
        """Adds the batch's new events to the counters; the accounts whose numbers moved."""
        async with self.pool.acquire() as conn, conn.transaction():
            events: list[EngagementRecorded] = await self._claim(conn, batch)  # type: ignore[assignment]
            events = await self._purchases_once(conn, events)
            user_day: dict[tuple, dict[str, int]] = defaultdict(
                lambda: dict.fromkeys(USER_DAY_COUNTERS, 0)
            )
            post_user: dict[tuple, dict[str, int]] = defaultdict(
                lambda: dict.fromkeys((*POST_COUNTERS, "gmv_cents"), 0)
            )
            first_seen: dict[int, datetime] = {}
            liked: dict[tuple[int, int, str], datetime] = {}
            for e in events:
                at = parse_rfc3339(e.at)
                user, account = int(e.user_id), int(e.account_id)
                inc = increment_of(e.action, e.dwell_ms, e.amount_cents, e.source)
                row = user_day[(account, shanghai_day(at), user)]
                if inc.counter:
                    row[inc.counter] += 1
                if e.dwell_ms is not None:
                    row["dwell_ms"] += inc.dwell_ms
                    row["dwell_reports"] += 1
                row["gmv_cents"] += inc.gmv_cents
                if e.post_id is not None and inc.counter in POST_COUNTERS:
                    post_row = post_user[(int(e.post_id), user)]
                    post_row[inc.counter] += 1
                    post_row["gmv_cents"] += inc.gmv_cents
                first_seen[user] = min(at, first_seen.get(user, at))
                if e.action in SWING_KINDS:
                    key = (user, account, e.action)
                    liked[key] = max(at, liked.get(key, at))
            await conn.executemany(
                UPSERT_USER_DAY, [(*k, *v.values()) for k, v in sorted(user_day.items())]
            )
            await conn.executemany(
                UPSERT_POST_USER, [(*k, *v.values()) for k, v in sorted(post_user.items())]
            )
            await conn.executemany(
                "INSERT INTO user_activity VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE "
                "SET first_at = least(user_activity.first_at, EXCLUDED.first_at)",
                sorted(first_seen.items()),
            )
            await conn.executemany(
                "INSERT INTO interactions VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (user_id, account_id, kind) "
                "DO UPDATE SET at = greatest(interactions.at, EXCLUDED.at)",
                [(*k, at) for k, at in sorted(liked.items())],
            )
            touched = {k[0] for k in user_day}
            await self._mark_dirty(conn, touched)
            return touched

    @staticmethod
    async def _purchases_once(
        conn: asyncpg.Connection, events: list[EngagementRecorded]
    ) -> list[EngagementRecorded]:
        """Drops purchases whose order was already counted (by an earlier event or one
        before it in this batch)."""
        orders = [e.order_id for e in events if e.action == "purchase" and e.order_id]
        if not orders:
            return events
        won = {
            r["order_id"]
            for r in await conn.fetch(
                "INSERT INTO orders SELECT unnest($1::text[]) "
                "ON CONFLICT DO NOTHING RETURNING order_id",
                sorted(orders),
            )
        }
        kept = []
        for e in events:
            if e.action == "purchase":
                if e.order_id not in won:
                    continue
                won.discard(e.order_id)
            kept.append(e)
        return kept

    @staticmethod
    async def _mark_dirty(conn: asyncpg.Connection, accounts: set[int]) -> None:
        if accounts:
            await conn.execute(
                "INSERT INTO dirty_accounts SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                sorted(accounts),
            )

    async def apply_follows(self, batch: Sequence[Identified]) -> list[FollowChanged]:
        """Logs each follow change once, keeps the newest state of each pair and notes
        the new follows for the fake-follower judge; returns the changes not seen before."""
        async with self.pool.acquire() as conn, conn.transaction():
            events: list[FollowChanged] = await self._claim(conn, batch)  # type: ignore[assignment]
            rows = [
                (
                    int(e.account_id),
                    int(e.user_id),
                    e.version,
                    e.following,
                    e.source,
                    parse_rfc3339(e.at),
                )
                for e in events
            ]
            await conn.executemany(
                "INSERT INTO follow_log VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                [(*r, shanghai_day(r[5])) for r in rows],
            )
            await conn.executemany(
                "INSERT INTO follows (account_id, user_id, version, following, at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, account_id) DO UPDATE "
                "SET version = EXCLUDED.version, following = EXCLUDED.following, at = EXCLUDED.at "
                "WHERE follows.version < EXCLUDED.version",
                [(*r[:4], r[5]) for r in rows],
            )
            await conn.executemany(
                f"INSERT INTO pending_judgement VALUES ($1, $2, $2) {MERGE_JUDGEMENT}",
                sorted((r[0], r[5]) for r in rows if r[3]),
            )
            return events

    async def apply_accounts(self, batch: Sequence[Identified]) -> list[AccountChanged]:
        """Keeps the newest version of each account; returns the changes not seen before."""
        async with self.pool.acquire() as conn, conn.transaction():
            events: list[AccountChanged] = await self._claim(conn, batch)  # type: ignore[assignment]
            await conn.executemany(
                "INSERT INTO accounts VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (account_id) DO UPDATE SET handle = EXCLUDED.handle, "
                "display_name = EXCLUDED.display_name, kind = EXCLUDED.kind, "
                "category = EXCLUDED.category, "
                "status = EXCLUDED.status, created_at = EXCLUDED.created_at, "
                "version = EXCLUDED.version WHERE accounts.version < EXCLUDED.version",
                [
                    (
                        int(e.account_id),
                        e.handle,
                        e.display_name,
                        e.kind,
                        e.category,
                        e.status,
                        parse_rfc3339(e.created_at),
                        e.version,
                    )
                    for e in events
                ],
            )
            await self._mark_dirty(conn, {int(e.account_id) for e in events})
            # A follower's account may arrive after their follows (topics are consumed
            # side by side): those follows are judged again now that its facts are known.
            await conn.execute(
                "INSERT INTO pending_judgement SELECT account_id, min(at), max(at) "
                "FROM follow_log WHERE user_id = ANY($1) AND following GROUP BY account_id "
                f"ORDER BY account_id {MERGE_JUDGEMENT}",
                sorted({int(e.account_id) for e in events}),
            )
            return events

    async def apply_posts(self, batch: Sequence[Identified]) -> None:
        """Records published posts (their Shanghai day) and marks deleted ones."""
        async with self.pool.acquire() as conn, conn.transaction():
            for e in await self._claim(conn, batch):
                if isinstance(e, PostPublished):
                    await conn.execute(
                        "INSERT INTO posts (post_id, account_id, day) VALUES ($1, $2, $3) "
                        "ON CONFLICT DO NOTHING",
                        int(e.post_id),
                        int(e.account_id),
                        shanghai_day(from_epoch_ms(e.published_ms)),
                    )
                elif isinstance(e, PostDeleted):
                    await conn.execute(
                        "INSERT INTO posts (post_id, account_id, day, deleted) "
                        "VALUES ($1, $2, $3, true) "
                        "ON CONFLICT (post_id) DO UPDATE SET deleted = true",
                        int(e.post_id),
                        int(e.account_id),
                        shanghai_day(from_epoch_ms(e.published_ms)),
                    )

    async def apply_interactions(self, batch: Sequence[Identified]) -> None:
        """Likes, comments and votes as sets, so a like after an unlike counts once."""
        statements = {
            "like": "INSERT INTO post_likes VALUES ($1, $2) ON CONFLICT DO NOTHING",
            "unlike": "DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2",
            "vote": "INSERT INTO post_votes VALUES ($1, $2) ON CONFLICT DO NOTHING",
            "comment": "INSERT INTO post_comments VALUES ($1, $2) ON CONFLICT DO NOTHING",
            "uncomment": "DELETE FROM post_comments WHERE post_id = $1 AND comment_id = $2",
        }
        async with self.pool.acquire() as conn, conn.transaction():
            events: list[PostInteraction] = await self._claim(conn, batch)  # type: ignore[assignment]
            for e in events:
                if e.action not in statements:
                    continue
                second = e.comment_id if e.action in ("comment", "uncomment") else int(e.user_id)
                if second is None:
                    continue
                await conn.execute(statements[e.action], int(e.post_id), second)
