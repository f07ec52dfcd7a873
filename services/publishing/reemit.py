"""python -m services.publishing.reemit — re-publishes every live post of the copy
window as post.published (through the outbox), so timelines and feedread's post
projection can be rebuilt from Postgres truth after a Redis wipe (`make rebuild-feeds`).
Feeds then materialize as users read: each is merged from timelines, then rebuilt."""

from __future__ import annotations

import argparse
import asyncio

from services.publishing.service import COPY_WINDOW
from services.publishing.store import POST_COLUMNS, SCHEMA, post_published
from shared import db, outbox
from shared.config import Env
from shared.timeutil import utcnow


async def main() -> None:
    pool = await db.create_pool(Env.from_os().str("WEITAO_POSTGRES_DSN"), SCHEMA)
    try:
        async with pool.acquire() as conn:
            posts = await conn.fetch(
                f"SELECT {POST_COLUMNS} FROM posts WHERE deleted_at IS NULL "
                f"AND created_at > $1 ORDER BY id",
                utcnow() - COPY_WINDOW,
            )
            count = await outbox.enqueue_in_batches(conn, SCHEMA, map(post_published, posts))
        print(f"[rebuild] re-emitted {count} posts")
    finally:
        await pool.close()


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()  # no options: --help only
    asyncio.run(main())
