"""Fake-follower flags, kept incrementally from follow events: the consumer notes which
accounts gained follows and when (pending_judgement); a background judge takes each note
and judges those follows with the account's follows around them and the followers' other
follows (services.insights.lockstep), storing flagged follows with their evidence.

Flags are only ever added: a burst is judged again as more of it arrives, and a follow
judged bought stays so (docs/insights.md says what that costs)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.insights.domain import IMPORT_SOURCE, shanghai_day
from services.insights.lockstep import MIN_GROUP, WINDOW, Facts, Follow, detect
from services.insights.store import MERGE_JUDGEMENT
from shared.pagination import MAX_LIMIT
from shared.timeutil import rfc3339

# How far apart in time a farm's synchronized follows of different accounts may be.
LOCKSTEP_SPAN = timedelta(days=3)
OFFICIAL_WINDOW_LOOKBACK = timedelta(days=10)  # engagement re-ranked when its user is flagged
JUDGE_BATCH = 20  # accounts judged per call of judge_pending
# Follows of one account judged at once, newest first: a bulk import of 100,000 follows
# in a second is judged by its newest part (the rules need a burst, not all of it).
MAX_JUDGED_FOLLOWS = 5000


class SuspicionDetector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def judge_pending(self) -> int:
        """Judges the follows of up to JUDGE_BATCH accounts noted by the consumer; how many
        accounts were judged. A note is taken in a short transaction of its own (the
        consumer merges new notes into the same rows and must not wait for a judgement)
        and given back if its judgement fails; replicas skip notes another is taking."""
        judged = 0
        for _ in range(JUDGE_BATCH):
            note = await self.pool.fetchrow(
                "DELETE FROM pending_judgement WHERE account_id = (SELECT account_id "
                "FROM pending_judgement LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *"
            )
            if note is None:
                break
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await self._judge(conn, *note.values())
            except BaseException:
                await self.pool.execute(
                    f"INSERT INTO pending_judgement VALUES ($1, $2, $3) {MERGE_JUDGEMENT}",
                    *note.values(),
                )
                raise
            judged += 1
        return judged

    async def _judge(
        self, conn: asyncpg.Connection, account_id: int, first: datetime, last: datetime
    ) -> int:
        around = await conn.fetch(
            "SELECT user_id, account_id, at FROM follow_log WHERE account_id = $1 "
            "AND following AND source <> $5 AND at BETWEEN $2 AND $3 ORDER BY at DESC LIMIT $4",
            account_id,
            first - 2 * WINDOW,
            last + 2 * WINDOW,
            MAX_JUDGED_FOLLOWS,
            IMPORT_SOURCE,
        )
        account_follows = [Follow(r["user_id"], r["account_id"], r["at"]) for r in around]
        users = sorted({f.user_id for f in account_follows})
        if len(users) < MIN_GROUP:
            return 0
        others = await conn.fetch(
            "SELECT user_id, account_id, at FROM follow_log WHERE user_id = ANY($1) "
            "AND following AND source <> $4 AND at BETWEEN $2 AND $3",
            users,
            first - LOCKSTEP_SPAN,
            last + LOCKSTEP_SPAN,
            IMPORT_SOURCE,
        )
        facts = {
            r["user_id"]: Facts(r["created_at"], r["first_at"])
            for r in await conn.fetch(
                "SELECT u.user_id, a.created_at, x.first_at FROM unnest($1::bigint[]) "
                "AS u(user_id) LEFT JOIN accounts a ON a.account_id = u.user_id "
                "LEFT JOIN user_activity x ON x.user_id = u.user_id",
                users,
            )
        }
        found = await asyncio.to_thread(  # CPU-bound on a big burst: off the event loop
            detect,
            account_follows,
            [Follow(r["user_id"], r["account_id"], r["at"]) for r in others],
            facts,
        )
        if not found:
            return 0
        await conn.executemany(
            "INSERT INTO suspicious VALUES ($1, $2, $3, $4, $5) ON CONFLICT "
            "(account_id, user_id) DO UPDATE SET evidence = EXCLUDED.evidence",
            sorted(
                (f.account_id, f.user_id, f.at, shanghai_day(f.at), evidence)
                for f, evidence in found.items()
            ),
        )
        await conn.execute(
            "INSERT INTO dirty_accounts SELECT DISTINCT account_id FROM user_day "
            "WHERE user_id = ANY($1) AND day >= $2 ON CONFLICT DO NOTHING",
            sorted({f.user_id for f in found}),
            shanghai_day(last - OFFICIAL_WINDOW_LOOKBACK),
        )
        return len(found)

    async def page(
        self, account_id: int | None, after: list[int] | None, limit: int
    ) -> tuple[list[dict[str, Any]], list[int] | None]:
        """Flagged follows by (account, follower), after the cursor position."""
        limit = min(limit, MAX_LIMIT)
        a, u = after or (0, 0)
        rows = await self.pool.fetch(
            "SELECT account_id, user_id, followed_at, evidence FROM suspicious "
            "WHERE ($1::bigint IS NULL OR account_id = $1) AND (account_id, user_id) > ($2, $3) "
            "ORDER BY account_id, user_id LIMIT $4",
            account_id,
            a,
            u,
            limit + 1,
        )
        items = [
            {
                "account_id": str(r["account_id"]),
                "user_id": str(r["user_id"]),
                "followed_at": rfc3339(r["followed_at"]),
                "evidence": r["evidence"],
            }
            for r in rows[:limit]
        ]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return items, [last["account_id"], last["user_id"]] if last else None
