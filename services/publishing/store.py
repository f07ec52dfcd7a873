"""The publishing service's Postgres: posts, its authors projection, and the outbox
(interactions with posts are in interactions.py). It implements ports.PostRepository:
the SQL, the locks and the unique day slots are here, the decisions in service.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime

import asyncpg
import msgspec

from services.publishing import ports, service, similarity
from services.publishing.domain import Author, PostNotFound, SuspensionWindow, shanghai_day
from services.publishing.new_post import NewPost
from shared import outbox
from shared.events import AccountChanged, PostDeleted, PostPublished
from shared.posts import PostView
from shared.timeutil import epoch_ms, rfc3339

log = logging.getLogger(__name__)

SCHEMA = "publishing"
POST_COLUMNS = (
    "id, account_id, kind, title, body, category, attachments, created_at, deleted_at, "
    "likes, comments, votes, vote_counts, group_buy_participants, group_buy_state"
)


def post_published(row: asyncpg.Record) -> PostPublished:
    """The post.published event of a post row (POST_COLUMNS)."""
    return PostPublished.of(post_view(row), epoch_ms(row["created_at"]))


def post_deleted(row: asyncpg.Record) -> PostDeleted:
    """The post.deleted event of a post row (id, account_id, category, created_at)."""
    return PostDeleted(
        post_id=str(row["id"]),
        account_id=str(row["account_id"]),
        category=row["category"],
        published_ms=epoch_ms(row["created_at"]),
    )


def post_view(row: ports.PostRow) -> PostView:
    """A post row (POST_COLUMNS) as feeds show it: without counters, tallies included."""
    attachments = row["attachments"]
    vote, buy = attachments.get("vote"), attachments.get("group_buy")
    counts = list(row["vote_counts"] or [0] * len(vote["options"])) if vote else []
    return msgspec.convert(
        {
            "id": str(row["id"]),
            "account_id": str(row["account_id"]),
            "kind": row["kind"],
            "title": row["title"],
            "body": row["body"],
            "category": row["category"],
            "images": attachments.get("images", []),
            "products": attachments.get("products"),
            "discount": attachments.get("discount"),
            "vote": {**vote, "counts": counts, "total": sum(counts)} if vote else None,
            "video": attachments.get("video"),
            "group_buy": {
                **buy,
                "participants": row["group_buy_participants"] or 0,
                "state": row["group_buy_state"] or "open",
            }
            if buy
            else None,
            "created_at": rfc3339(row["created_at"]),
        },
        PostView,
    )


class PostStore:
    """ports.PostRepository on Postgres, and the post reads the API serves."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[PostTransaction]:
        async with self.pool.acquire() as conn:
            yield PostTransaction(conn)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[PostTransaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostTransaction(conn)

    async def publish(
        self,
        post_id: int,
        account_id: int,
        new: NewPost,
        now: datetime,
        daily_limit: int,
        fingerprint: similarity.Fingerprint | None,
    ) -> tuple[ports.PostRow, int]:
        """service.write_post in one transaction: the locked write alone, without the
        service's per-process turns, so tests can race it against the database."""
        async with self.writing() as tx:
            return await service.write_post(
                tx, post_id, account_id, new, now, daily_limit, fingerprint
            )

    async def post(self, post_id: int) -> asyncpg.Record:
        """A live post; PostNotFound otherwise."""
        row = await self.pool.fetchrow(
            f"SELECT {POST_COLUMNS} FROM posts WHERE id = $1 AND deleted_at IS NULL", post_id
        )
        if row is None:
            raise PostNotFound("post not found", post_id=str(post_id))
        return row

    async def account_posts(
        self, account_id: int, limit: int, before_id: int | None
    ) -> list[asyncpg.Record]:
        """An account's live posts, newest first, below `before_id`."""
        return await self.pool.fetch(
            f"SELECT {POST_COLUMNS} FROM posts WHERE account_id = $1 AND deleted_at IS NULL "
            f"AND id < $2 ORDER BY id DESC LIMIT $3",
            account_id,
            before_id if before_id is not None else 2**63 - 1,
            limit,
        )

    async def author_id(self, post_id: int) -> int:
        account_id = await self.pool.fetchval("SELECT account_id FROM posts WHERE id = $1", post_id)
        if account_id is None:
            raise PostNotFound("post not found", post_id=str(post_id))
        return account_id


class PostTransaction:
    """ports.PostTransaction on one Postgres connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def author(self, account_id: int, *, lock: bool) -> Author | None:
        row = await self.conn.fetchrow(
            "SELECT kind, category, status FROM authors WHERE id = $1"
            + (" FOR UPDATE" if lock else ""),
            account_id,
        )
        return Author(row["kind"], row["category"], row["status"]) if row else None

    async def posts_on(self, account_id: int, day: date) -> int:
        return await self.conn.fetchval(
            "SELECT count(*) FROM posts WHERE account_id = $1 AND shanghai_day = $2",
            account_id,
            day,
        )

    async def copy_candidates(
        self, account_id: int, bands: list[int], since: datetime
    ) -> list[tuple[int, list[int]]]:
        # Candidates come from the band index only, never a scan of the posts.
        rows = await self.conn.fetch(
            "SELECT f.post_id, f.signature FROM fingerprints f JOIN posts p ON p.id = f.post_id "
            "WHERE p.deleted_at IS NULL AND f.account_id <> $3 AND f.post_id IN ("
            "  SELECT b.post_id FROM fingerprint_bands b"
            "  JOIN unnest($1::smallint[], $2::bigint[]) AS k(band, hash)"
            "    ON b.band = k.band AND b.hash = k.hash WHERE b.created_at > $4)",
            list(range(similarity.BANDS)),
            bands,
            account_id,
            since,
        )
        return [(r["post_id"], r["signature"]) for r in rows]

    async def add_post(
        self,
        post_id: int,
        account_id: int,
        new: NewPost,
        category: str,
        now: datetime,
        day_slot: int,
    ) -> asyncpg.Record:
        attachments = msgspec.to_builtins(
            {
                "images": new.images,
                "products": new.products,
                "discount": new.discount,
                "vote": new.vote,
                "video": new.video,
                "group_buy": new.group_buy,
            }
        )
        buy = new.group_buy
        row = await self.conn.fetchrow(
            f"INSERT INTO posts (id, account_id, kind, title, body, category, attachments, "
            f"created_at, shanghai_day, day_slot, vote_counts, group_buy_participants, "
            f"group_buy_state, group_buy_ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
            f"$9, $10, $11, $12, $13, $14) RETURNING {POST_COLUMNS}",
            post_id,
            account_id,
            new.kind,
            new.title,
            new.body,
            category,
            attachments,
            now,
            shanghai_day(now),
            day_slot,
            [0] * len(new.vote.options) if new.vote else None,
            0 if buy else None,
            "open" if buy else None,
            buy.ends_at if buy else None,
        )
        await outbox.enqueue(self.conn, SCHEMA, post_published(row))
        return row

    async def add_fingerprint(
        self, post_id: int, account_id: int, fingerprint: similarity.Fingerprint, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO fingerprints (post_id, account_id, created_at, signature) "
            "VALUES ($1, $2, $3, $4)",
            post_id,
            account_id,
            now,
            fingerprint.signature,
        )
        await self.conn.executemany(
            "INSERT INTO fingerprint_bands (band, hash, post_id, created_at) "
            "VALUES ($1, $2, $3, $4)",
            [(band, key, post_id, now) for band, key in enumerate(fingerprint.bands)],
        )

    async def author_versions(self, account_ids: list[int]) -> dict[int, int]:
        # Locked: publish holds the author's row while it checks and inserts.
        rows = await self.conn.fetch(
            "SELECT id, version FROM authors WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            account_ids,
        )
        return {r["id"]: r["version"] for r in rows}

    async def save_authors(self, latest: list[AccountChanged]) -> None:
        await self.conn.execute(
            "INSERT INTO authors (id, kind, category, status, version) "
            "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
            "$5::bigint[]) ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, "
            "category = EXCLUDED.category, status = EXCLUDED.status, "
            "version = EXCLUDED.version WHERE authors.version < EXCLUDED.version",
            [int(e.account_id) for e in latest],
            [e.kind for e in latest],
            [e.category for e in latest],
            [e.status for e in latest],
            [e.version for e in latest],
        )

    async def retract(self, windows: list[SuspensionWindow], now: datetime) -> list[int]:
        rows = await self.conn.fetch(
            "UPDATE posts p SET deleted_at = $4 "
            "FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) "
            "  AS w(account_id, since, until) "
            "WHERE p.account_id = w.account_id AND p.created_at >= w.since "
            "AND (w.until IS NULL OR p.created_at < w.until) AND p.deleted_at IS NULL "
            "RETURNING p.id, p.account_id, p.category, p.created_at",
            [w.account_id for w in windows],
            [w.since for w in windows],
            [w.until for w in windows],
            now,
        )
        if rows:
            await outbox.enqueue(self.conn, SCHEMA, *map(post_deleted, rows))
            log.info(
                "retracted posts accepted while their account was suspended",
                extra={"posts": [str(r["id"]) for r in rows]},
            )
        return [r["id"] for r in rows]

    async def delete(self, post_id: int, now: datetime) -> None:
        row = await self.conn.fetchrow(
            "UPDATE posts SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL "
            "RETURNING id, account_id, category, created_at",
            post_id,
            now,
        )
        if row is not None:
            await outbox.enqueue(self.conn, SCHEMA, post_deleted(row))
