"""The publishing service's Postgres, interactions half: comments, likes and votes, each
with its post.interaction event in the same transaction (the counters on posts stay exact).
It implements ports.InteractionRepository (who may do what is decided in service.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from services.publishing import tallies
from services.publishing.ports import LivePost
from services.publishing.store import SCHEMA
from shared import outbox
from shared.events import PostInteraction
from shared.timeutil import rfc3339


class InteractionStore:
    """ports.InteractionRepository on Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[InteractionTransaction]:
        async with self.pool.acquire() as conn:
            yield InteractionTransaction(conn)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[InteractionTransaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield InteractionTransaction(conn)


class InteractionTransaction:
    """ports.InteractionTransaction on one Postgres connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def live_post(self, post_id: int) -> LivePost | None:
        row = await self.conn.fetchrow(
            "SELECT id, account_id, kind, attachments FROM posts "
            "WHERE id = $1 AND deleted_at IS NULL",
            post_id,
        )
        if row is None:
            return None
        return LivePost(row["id"], row["account_id"], row["kind"], row["attachments"].get("vote"))

    async def _interaction(
        self,
        post: LivePost,
        user_id: int,
        action: str,
        now: datetime,
        comment_id: str | None = None,
        option: int | None = None,
    ) -> None:
        await outbox.enqueue(
            self.conn,
            SCHEMA,
            PostInteraction(
                post_id=str(post.id),
                account_id=str(post.account_id),
                user_id=str(user_id),
                action=action,
                at=rfc3339(now),
                comment_id=comment_id,
                option=option,
            ),
        )

    async def add_comment(
        self, comment_id: int, post: LivePost, author_id: int, text: str, now: datetime
    ) -> asyncpg.Record:
        row = await self.conn.fetchrow(
            "INSERT INTO comments (id, post_id, author_id, text, created_at) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id, post_id, author_id, text, created_at",
            comment_id,
            post.id,
            author_id,
            text,
            now,
        )
        await self.conn.execute("UPDATE posts SET comments = comments + 1 WHERE id = $1", post.id)
        await self._interaction(post, author_id, "comment", now, comment_id=str(comment_id))
        return row

    async def comments(
        self, post_id: int, limit: int, after_id: int | None
    ) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "SELECT id, post_id, author_id, text, created_at FROM comments "
            "WHERE post_id = $1 AND deleted_at IS NULL AND id > $2 ORDER BY id LIMIT $3",
            post_id,
            after_id or 0,
            limit,
        )

    async def comment_author(self, post_id: int, comment_id: int) -> int | None:
        return await self.conn.fetchval(
            "SELECT author_id FROM comments WHERE id = $1 AND post_id = $2 "
            "AND deleted_at IS NULL FOR UPDATE",
            comment_id,
            post_id,
        )

    async def remove_comment(
        self, post: LivePost, comment_id: int, author_id: int, now: datetime
    ) -> None:
        await self.conn.execute(
            "UPDATE comments SET deleted_at = $2 WHERE id = $1", comment_id, now
        )
        await self.conn.execute("UPDATE posts SET comments = comments - 1 WHERE id = $1", post.id)
        await self._interaction(post, author_id, "uncomment", now, comment_id=str(comment_id))

    async def set_like(self, post: LivePost, user_id: int, liked: bool, now: datetime) -> None:
        if liked:
            changed = await self.conn.fetchval(
                "INSERT INTO likes (post_id, user_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING 1",
                post.id,
                user_id,
            )
        else:
            changed = await self.conn.fetchval(
                "DELETE FROM likes WHERE post_id = $1 AND user_id = $2 RETURNING 1",
                post.id,
                user_id,
            )
        if changed:
            await self.conn.execute(
                "UPDATE posts SET likes = likes + $2 WHERE id = $1", post.id, 1 if liked else -1
            )
            await self._interaction(post, user_id, "like" if liked else "unlike", now)

    async def cast_vote(self, post: LivePost, user_id: int, option: int, now: datetime) -> None:
        # The post's row first: a user's concurrent votes then read their previous option
        # one after another, so a moved vote moves the tally exactly once.
        await self.conn.execute("SELECT 1 FROM posts WHERE id = $1 FOR UPDATE", post.id)
        previous = await self.conn.fetchval(
            "SELECT option FROM votes WHERE post_id = $1 AND user_id = $2", post.id, user_id
        )
        await self.conn.execute(
            "INSERT INTO votes (post_id, user_id, option, voted_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (post_id, user_id) DO UPDATE SET option = EXCLUDED.option, "
            "voted_at = EXCLUDED.voted_at",
            post.id,
            user_id,
            option,
            now,
        )
        if previous != option:
            # counts are 1-based in SQL; the option left loses one, the one chosen gains one.
            await self.conn.execute(
                "UPDATE posts SET votes = votes + $4::int, vote_counts = ARRAY("
                "  SELECT c + CASE WHEN i = $2 THEN 1 WHEN i = $3 THEN -1 ELSE 0 END"
                "  FROM unnest(vote_counts) WITH ORDINALITY AS t(c, i) ORDER BY i) "
                "WHERE id = $1",
                post.id,
                option + 1,
                None if previous is None else previous + 1,
                1 if previous is None else 0,
            )
            await tallies.announce(self.conn, post.id)
        await self._interaction(post, user_id, "vote", now, option=option)
