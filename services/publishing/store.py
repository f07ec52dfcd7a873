"""The publishing service's Postgres: posts, its authors projection, and the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from services.publishing import similarity
from services.publishing.domain import (
    CommentNotFound,
    DuplicateContent,
    NewPost,
    NotAllowed,
    PostNotFound,
    check_author,
    check_quota,
    shanghai_day,
    vote_option,
)
from shared import outbox
from shared.events import (
    AccountChanged,
    PostDeleted,
    PostInteraction,
    PostPublished,
    newest_per_entity,
)
from shared.timeutil import epoch_ms, rfc3339

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

    async def apply_accounts(self, events: list[AccountChanged]) -> None:
        """Keeps the newest known state of each account (older or repeated events: no-op)."""
        latest = newest_per_entity(events)
        await self.pool.execute(
            "INSERT INTO authors (id, kind, category, status, version) "
            "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
            "$5::bigint[]) ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, "
            "category = EXCLUDED.category, status = EXCLUDED.status, version = EXCLUDED.version "
            "WHERE authors.version < EXCLUDED.version",
            [int(e.account_id) for e in latest],
            [e.kind for e in latest],
            [e.category for e in latest],
            [e.status for e in latest],
            [e.version for e in latest],
        )

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
            # The author row lock serialises one account's publishes, so the count below
            # cannot be raced; the unique day slot backs that up inside the table itself.
            author = await conn.fetchrow(
                "SELECT kind, category, status FROM authors WHERE id = $1 FOR UPDATE", account_id
            )
            check_author(author and author["kind"], author and author["status"])
            day = shanghai_day(now)
            used = await conn.fetchval(
                "SELECT count(*) FROM posts WHERE account_id = $1 AND shanghai_day = $2",
                account_id,
                day,
            )
            check_quota(used, daily_limit, now)
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
                day,
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
                "RETURNING account_id, category, created_at",
                post_id,
                now,
            )
            if row is None:
                return
            await outbox.enqueue(
                conn,
                SCHEMA,
                PostDeleted(
                    post_id=str(post_id),
                    account_id=str(row["account_id"]),
                    category=row["category"],
                    published_ms=epoch_ms(row["created_at"]),
                ),
            )

    # ------------------------------------------------------------ interactions

    async def _live_post(self, conn: asyncpg.Connection, post_id: int) -> asyncpg.Record:
        row = await conn.fetchrow(
            "SELECT id, account_id, kind, attachments FROM posts "
            "WHERE id = $1 AND deleted_at IS NULL",
            post_id,
        )
        if row is None:
            raise PostNotFound("post not found", post_id=str(post_id))
        return row

    async def _interaction(
        self,
        conn: asyncpg.Connection,
        post: asyncpg.Record,
        user_id: int,
        action: str,
        now: datetime,
        **extra: str | int | None,
    ) -> None:
        await outbox.enqueue(
            conn,
            SCHEMA,
            PostInteraction(
                post_id=str(post["id"]),
                account_id=str(post["account_id"]),
                user_id=str(user_id),
                action=action,
                at=rfc3339(now),
                **extra,  # type: ignore[arg-type]
            ),
        )

    async def add_comment(
        self, comment_id: int, post_id: int, author_id: int, text: str, now: datetime
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            post = await self._live_post(conn, post_id)
            row = await conn.fetchrow(
                "INSERT INTO comments (id, post_id, author_id, text, created_at) "
                "VALUES ($1, $2, $3, $4, $5) RETURNING id, post_id, author_id, text, created_at",
                comment_id,
                post_id,
                author_id,
                text,
                now,
            )
            await conn.execute("UPDATE posts SET comments = comments + 1 WHERE id = $1", post_id)
            await self._interaction(
                conn, post, author_id, "comment", now, comment_id=str(comment_id)
            )
            return row

    async def comments(
        self, post_id: int, limit: int, after_id: int | None
    ) -> list[asyncpg.Record]:
        """A post's comments, oldest first."""
        async with self.pool.acquire() as conn:
            await self._live_post(conn, post_id)
            return await conn.fetch(
                "SELECT id, post_id, author_id, text, created_at FROM comments "
                "WHERE post_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3",
                post_id,
                after_id or 0,
                limit,
            )

    async def delete_comment(
        self, post_id: int, comment_id: int, may_delete: set[int], staff: bool, now: datetime
    ) -> None:
        """Removes a comment if the caller is its author or the post's owner (or staff)."""
        async with self.pool.acquire() as conn, conn.transaction():
            post = await self._live_post(conn, post_id)
            comment = await conn.fetchrow(
                "SELECT author_id FROM comments WHERE id = $1 AND post_id = $2 "
                "AND deleted_at IS NULL FOR UPDATE",
                comment_id,
                post_id,
            )
            if comment is None:
                raise CommentNotFound("comment not found", comment_id=str(comment_id))
            if not staff and not may_delete & {comment["author_id"], post["account_id"]}:
                raise NotAllowed("only the comment's author or the post's owner may delete it")
            await conn.execute("UPDATE comments SET deleted_at = $2 WHERE id = $1", comment_id, now)
            await conn.execute("UPDATE posts SET comments = comments - 1 WHERE id = $1", post_id)
            await self._interaction(
                conn, post, comment["author_id"], "uncomment", now, comment_id=str(comment_id)
            )

    async def set_like(self, post_id: int, user_id: int, liked: bool, now: datetime) -> None:
        """Likes or unlikes; repeating either changes nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            post = await self._live_post(conn, post_id)
            if liked:
                changed = await conn.fetchval(
                    "INSERT INTO likes (post_id, user_id) VALUES ($1, $2) "
                    "ON CONFLICT DO NOTHING RETURNING 1",
                    post_id,
                    user_id,
                )
            else:
                changed = await conn.fetchval(
                    "DELETE FROM likes WHERE post_id = $1 AND user_id = $2 RETURNING 1",
                    post_id,
                    user_id,
                )
            if changed:
                await conn.execute(
                    "UPDATE posts SET likes = likes + $2 WHERE id = $1", post_id, 1 if liked else -1
                )
                await self._interaction(conn, post, user_id, "like" if liked else "unlike", now)

    async def vote(self, post_id: int, user_id: int, choice: str | int, now: datetime) -> None:
        """Casts or moves a user's one vote on an open vote post."""
        async with self.pool.acquire() as conn, conn.transaction():
            post = await self._live_post(conn, post_id)
            option = vote_option(post["kind"], post["attachments"].get("vote"), choice, now)
            first = await conn.fetchval(
                "INSERT INTO votes (post_id, user_id, option, voted_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (post_id, user_id) DO UPDATE SET option = EXCLUDED.option, "
                "voted_at = EXCLUDED.voted_at RETURNING xmax = 0",
                post_id,
                user_id,
                option,
                now,
            )
            if first:
                await conn.execute("UPDATE posts SET votes = votes + 1 WHERE id = $1", post_id)
            await self._interaction(conn, post, user_id, "vote", now, option=option)
