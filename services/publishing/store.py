"""The publishing service's Postgres: posts, its authors projection, and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from services.publishing.domain import (
    NewPost,
    PostNotFound,
    check_author,
    check_quota,
    shanghai_day,
)
from shared import outbox
from shared.events import AccountChanged, PostDeleted, PostPublished
from shared.timeutil import epoch_ms, rfc3339

SCHEMA = "publishing"
POST_COLUMNS = (
    "id, account_id, kind, title, body, category, attachments, created_at, deleted_at, "
    "likes, comments, votes"
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

    async def apply_account(self, event: AccountChanged) -> None:
        """Keeps the newest known state of an account (older or repeated events: no-op)."""
        await self.pool.execute(
            "INSERT INTO authors (id, kind, category, status, version) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, "
            "category = EXCLUDED.category, status = EXCLUDED.status, version = EXCLUDED.version "
            "WHERE authors.version < EXCLUDED.version",
            int(event.account_id),
            event.kind,
            event.category,
            event.status,
            event.version,
        )

    async def publish(
        self, post_id: int, account_id: int, new: NewPost, now: datetime, daily_limit: int
    ) -> tuple[asyncpg.Record, int]:
        """Stores a post and its event; returns it with the quota used today (this one too)."""
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
            await outbox.enqueue(
                conn,
                SCHEMA,
                PostPublished(
                    post_id=str(post_id),
                    account_id=str(account_id),
                    category=row["category"],
                    published_ms=epoch_ms(now),
                    post=post_view(row),
                ),
            )
            return row, used + 1

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
