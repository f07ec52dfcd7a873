"""python -m services.accounts.reemit — re-publishes every account and active follow as
events (through the outbox), so projections and feeds can be rebuilt from Postgres truth
after a Redis wipe (`make rebuild-feeds`). Consumers are idempotent: what they already
hold is left as it is."""

from __future__ import annotations

import argparse
import asyncio

from services.accounts.follow_store import follow_changed
from services.accounts.store import ACCOUNT_COLUMNS, SCHEMA, account_changed
from shared import db, outbox
from shared.config import Env


async def main() -> None:
    pool = await db.create_pool(Env.from_os().str("WEITAO_POSTGRES_DSN"), SCHEMA)
    try:
        async with pool.acquire() as conn:
            accounts = await conn.fetch(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id")
            await outbox.enqueue_in_batches(
                conn, SCHEMA, (account_changed(r, "snapshot") for r in accounts)
            )
            follows = await conn.fetch(
                "SELECT user_id, account_id, version, source, followed_at FROM follows "
                "WHERE active ORDER BY account_id, user_id"
            )
            await outbox.enqueue_in_batches(
                conn, SCHEMA, (follow_changed(r, True, r["followed_at"]) for r in follows)
            )
        print(f"[rebuild] re-emitted {len(accounts)} accounts and {len(follows)} follows")
    finally:
        await pool.close()


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()  # no options: --help only
    asyncio.run(main())
