"""The publishing service's Postgres, interactions half: comments, likes and votes, each
with its post.interaction event in the same transaction (the counters on posts stay exact)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.publishing.domain import CommentNotFound, NotAllowed, PostNotFound, vote_option
from services.publishing.store import SCHEMA
from shared import outbox
from shared.events import PostInteraction
from shared.timeutil import rfc3339


class InteractionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

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
        comment_id: str | None = None,
        option: int | None = None,
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
                comment_id=comment_id,
                option=option,
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
