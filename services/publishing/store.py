"""The publishing service's Postgres: posts, its authors projection, and the outbox
(interactions with posts are in interactions.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from services.publishing import similarity
from services.publishing.domain import (
    AccountChange,
    DuplicateContent,
    NewPost,
    PostNotFound,
    SuspensionWindow,
    check_author,
    check_quota,
    shanghai_day,
    suspension_windows,
)
from shared import outbox
from shared.events import PostDeleted, PostPublished, newest_per_entity
from shared.timeutil import epoch_ms, rfc3339, utcnow

log = logging.getLogger(__name__)

SCHEMA = "publishing"
COPY_WINDOW = timedelta(days=30)  # API.md: copies of posts of the last 30 days are refused
POST_COLUMNS = (
    "id, account_id, kind, title, body, category, attachments, created_at, deleted_at, "
    "likes, comments, votes"
)


def post_published(row: asyncpg.Record) -> PostPublished:
    """The post.published event of a post row (POST_COLUMNS)."""
    return PostPublished(
        post_id=str(row["id"]),
        account_id=str(row["account_id"]),
        category=row["category"],
        published_ms=epoch_ms(row["created_at"]),
        post=post_view(row),
    )


def post_deleted(row: asyncpg.Record) -> PostDeleted:
    """The post.deleted event of a post row (id, account_id, category, created_at)."""
    return PostDeleted(
        post_id=str(row["id"]),
        account_id=str(row["account_id"]),
        category=row["category"],
        published_ms=epoch_ms(row["created_at"]),
    )


def post_view(row: asyncpg.Record) -> dict[str, Any]:
    """A post as API.md shows it (without counters)."""
    attachments = row["attachments"]
    return {
        "id": str(row["id"]),
        "account_id": str(row["account_id"]),
        "kind": row["kind"],
        "title": row["title"],
        "body": row["body"],
        "category": row["category"],
        "images": attachments.get("images", []),
        "products": attachments.get("products"),
        "discount": attachments.get("discount"),
        "vote": attachments.get("vote"),
        "video": attachments.get("video"),
        "created_at": rfc3339(row["created_at"]),
    }


class PostStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def apply_accounts(self, changes: list[AccountChange]) -> None:
        """Keeps the newest known state of each account (older or repeated changes: no-op),
        and retracts the posts accepted while a newly learnt suspension lasted."""
        latest = newest_per_entity([c.event for c in changes])
        ids = [int(e.account_id) for e in latest]
        async with self.pool.acquire() as conn, conn.transaction():
            # The row locks order this against publish(), which holds the author's row
            # while it checks and inserts: a post committed before them is retracted
            # below, one checked after them sees the suspension and is refused.
            known = await conn.fetch(
                "SELECT id, version FROM authors WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids
            )
            windows = suspension_windows(changes, {r["id"]: r["version"] for r in known})
            await conn.execute(
                "INSERT INTO authors (id, kind, category, status, version) "
                "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
                "$5::bigint[]) ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, "
                "category = EXCLUDED.category, status = EXCLUDED.status, "
                "version = EXCLUDED.version WHERE authors.version < EXCLUDED.version",
                ids,
                [e.kind for e in latest],
                [e.category for e in latest],
                [e.status for e in latest],
                [e.version for e in latest],
            )
            if windows:
                await self._retract(conn, windows)

    async def _retract(self, conn: asyncpg.Connection, windows: list[SuspensionWindow]) -> None:
        """Deletes, as DELETE /v1/posts/{id} does, the posts accepted in the windows.

        Publishing learns of a suspension from Kafka, so its copy of the account lags by
        design (a publish must not wait for, or call, accounts): a post accepted in that
        lag was never allowed. Its post.deleted takes it out of every feed for good, so an
        unsuspension does not bring it back; a redelivered suspension finds nothing left.
        """
        rows = await conn.fetch(
            "UPDATE posts p SET deleted_at = $4 "
            "FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) "
            "  AS w(account_id, since, until) "
            "WHERE p.account_id = w.account_id AND p.created_at >= w.since "
            "AND (w.until IS NULL OR p.created_at < w.until) AND p.deleted_at IS NULL "
            "RETURNING p.id, p.account_id, p.category, p.created_at",
            [w.account_id for w in windows],
            [w.since for w in windows],
            [w.until for w in windows],
            utcnow(),
        )
        if rows:
            await outbox.enqueue(conn, SCHEMA, *map(post_deleted, rows))
            log.info(
                "retracted posts accepted while their account was suspended",
                extra={"posts": [str(r["id"]) for r in rows]},
            )

    async def check_may_publish(self, account_id: int, now: datetime, daily_limit: int) -> None:
        """Refuses an unknown, consumer or suspended author, or one over the quota, without
        locking anything: the cheap early answer (publish() checks again under the lock)."""
        async with self.pool.acquire() as conn:
            await self._standing(conn, account_id, now, daily_limit, lock=False)

    async def _standing(
        self, conn: asyncpg.Connection, account_id: int, now: datetime, daily_limit: int, lock: bool
    ) -> tuple[asyncpg.Record, int]:
        """The author row and its posts of the Shanghai day, once both rules allow a post."""
        author = await conn.fetchrow(
            "SELECT kind, category, status FROM authors WHERE id = $1"
            + (" FOR UPDATE" if lock else ""),
            account_id,
        )
        check_author(author and author["kind"], author and author["status"])
        used = await conn.fetchval(
            "SELECT count(*) FROM posts WHERE account_id = $1 AND shanghai_day = $2",
            account_id,
            shanghai_day(now),
        )
        check_quota(used, daily_limit, now)
        return author, used

    async def publish(
        self,
        post_id: int,
        account_id: int,
        new: NewPost,
        now: datetime,
        daily_limit: int,
        fingerprint: similarity.Fingerprint | None,
    ) -> tuple[asyncpg.Record, int]:
        """Stores a post, its fingerprint and its event; returns the post with the quota
        used today (this one included)."""
        async with self.pool.acquire() as conn, conn.transaction():
            # The author row lock serialises one account's publishes, so the count cannot
            # be raced; the unique day slot backs that up inside the table itself.
            author, used = await self._standing(conn, account_id, now, daily_limit, lock=True)
            if fingerprint is not None:
                await self._refuse_copies(conn, account_id, fingerprint, now)
            attachments = msgspec.to_builtins(
                {
                    "images": new.images,
                    "products": new.products,
                    "discount": new.discount,
                    "vote": new.vote,
                    "video": new.video,
                }
            )
            row = await conn.fetchrow(
                f"INSERT INTO posts (id, account_id, kind, title, body, category, attachments, "
                f"created_at, shanghai_day, day_slot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                f"$9, $10) RETURNING {POST_COLUMNS}",
                post_id,
                account_id,
                new.kind,
                new.title,
                new.body,
                new.category or author["category"] or "other",
                attachments,
                now,
                shanghai_day(now),
                used + 1,
            )
            if fingerprint is not None:
                await self._store_fingerprint(conn, post_id, account_id, fingerprint, now)
            await outbox.enqueue(conn, SCHEMA, post_published(row))
            return row, used + 1

    async def _refuse_copies(
        self,
        conn: asyncpg.Connection,
        account_id: int,
        fingerprint: similarity.Fingerprint,
        now: datetime,
    ) -> None:
        """DuplicateContent when another account's live post of the copy window is a
        near-copy; candidates come from the band index only."""
        candidates = await conn.fetch(
            "SELECT f.post_id, f.signature FROM fingerprints f JOIN posts p ON p.id = f.post_id "
            "WHERE p.deleted_at IS NULL AND f.account_id <> $3 AND f.post_id IN ("
            "  SELECT b.post_id FROM fingerprint_bands b"
            "  JOIN unnest($1::smallint[], $2::bigint[]) AS k(band, hash)"
            "    ON b.band = k.band AND b.hash = k.hash WHERE b.created_at > $4)",
            list(range(similarity.BANDS)),
            fingerprint.bands,
            account_id,
            now - COPY_WINDOW,
        )
        scored = [
            (similarity.similarity(fingerprint.signature, c["signature"]), -c["post_id"])
            for c in candidates
        ]
        best = max(scored, default=None)
        if best is not None and best[0] >= similarity.NEAR_COPY:
            raise DuplicateContent(
                "this text copies another account's post",
                original_post_id=str(-best[1]),
                similarity=round(best[0], 2),
            )

    async def _store_fingerprint(
        self,
        conn: asyncpg.Connection,
        post_id: int,
        account_id: int,
        fingerprint: similarity.Fingerprint,
        now: datetime,
    ) -> None:
        await conn.execute(
            "INSERT INTO fingerprints (post_id, account_id, created_at, signature) "
            "VALUES ($1, $2, $3, $4)",
            post_id,
            account_id,
            now,
            fingerprint.signature,
        )
        await conn.executemany(
            "INSERT INTO fingerprint_bands (band, hash, post_id, created_at) "
            "VALUES ($1, $2, $3, $4)",
            [(band, key, post_id, now) for band, key in enumerate(fingerprint.bands)],
        )

    async def post(self, post_id: int) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            f"SELECT {POST_COLUMNS} FROM posts WHERE id = $1 AND deleted_at IS NULL", post_id
        )
        if row is None:
            raise PostNotFound("post not found", post_id=str(post_id))
        return row

    async def account_posts(
        self, account_id: int, limit: int, before_id: int | None
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            f"SELECT {POST_COLUMNS} FROM posts WHERE account_id = $1 AND deleted_at IS NULL "
            f"AND id < $2 ORDER BY id DESC LIMIT $3",
            account_id,
            before_id if before_id is not None else 2**63 - 1,
            limit,
        )

    async def author_id(self, post_id: int) -> int:
        """The account that wrote a post, deleted or not (for authorising a delete)."""
        account_id = await self.pool.fetchval("SELECT account_id FROM posts WHERE id = $1", post_id)
        if account_id is None:
            raise PostNotFound("post not found", post_id=str(post_id))
        return account_id

    async def delete(self, post_id: int, now: datetime) -> None:
        """Marks a post deleted and emits post.deleted; deleting it again changes nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE posts SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL "
                "RETURNING id, account_id, category, created_at",
                post_id,
                now,
            )
            if row is not None:
                await outbox.enqueue(conn, SCHEMA, post_deleted(row))
