"""The ceilings of `make bench-read`, each its own process serving what a feed page needs
with none of Weitao's code: `redis` does one LRANGE 0 19 of the user's packed feed plus
one MGET of the 20 post bodies on the same Redis; `fixed` returns a fixed body (a real
page captured by the bench) with no I/O. Run: python -m bench.read_ceiling redis|fixed
PORT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from shared.config import Env
from shared.feedstore.keys import feed_key, post_key
from shared.feedstore.packed import decode_entries
from shared.redis_cluster import connect


def redis_app(redis_url: str, cluster: bool) -> web.Application:
    redis = connect(redis_url, cluster)

    async def page(request: web.Request) -> web.Response:
        entries = await redis.lrange(feed_key(request.match_info["user"]), 0, 19)
        ids = [member for member, _ in decode_entries(entries)]
        bodies = await redis.mget([post_key(i.decode()) for i in ids]) if ids else []
        body = b'{"items":[' + b",".join(b for b in bodies if b) + b"]}"
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/users/{user}/feed", page)
    return app


def fixed_app(body: bytes) -> web.Application:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/v1/users/{user}/feed", page)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("redis", "fixed"))
    parser.add_argument("port", type=int)
    parser.add_argument("--body", type=Path, help="the fixed body (kind fixed)")
    args = parser.parse_args()
    if args.kind == "redis":
        env = Env.from_os()
        app = redis_app(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
    else:
        app = fixed_app(args.body.read_bytes())
    with contextlib.suppress(ImportError):  # the same event loop as feedread's main()
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
