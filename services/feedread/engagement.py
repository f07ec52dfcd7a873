"""Feedread's Redis for engagement reports: a rate limit per caller and the orders
already counted (the feed keyspace is in store.py)."""

from __future__ import annotations

import time
from typing import Any

from shared.redis_cluster import AnyRedis

# A purchase is counted once per order for longer than any stats window (insights
# answers up to 90 days), so a replayed report cannot count it again in one.
ORDER_COUNTED_TTL_S = 91 * 24 * 3600

# Adds ARGV[1] to a fixed window's count, which expires with the window (ARGV[2] s).
_CHARGE = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""

# Forgets an order claimed by this request (ARGV[1]) and by no other.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def rate_key(role: str, sub: str, window: int) -> str:
    """Integer: events a caller reported in one rate window."""
    return f"ratelimit:{{{role}:{sub}}}:events:{window}"


def order_counted_key(order_id: str) -> str:
    """String: the request that counted a purchase's order (order ids hold no braces)."""
    return f"order-counted:{{o{order_id}}}"


class EngagementStore:
    def __init__(self, redis: AnyRedis) -> None:
        # redis-py types EVAL's arguments as str only (shared.feedstore.reader says more).
        self.redis: Any = redis

    async def charge(self, role: str, sub: str, events: int, per_window: int, window_s: int) -> int:
        """Counts `events` against the caller's window; 0 when within `per_window`, else the
        seconds until the window ends."""
        now = time.time()
        window = int(now // window_s)
        count = await self.redis.eval(_CHARGE, 1, rate_key(role, sub, window), events, window_s)
        if count <= per_window:
            return 0
        return max(1, int((window + 1) * window_s - now + 0.999))

    async def claim_orders(self, order_ids: list[str], claimant: str) -> list[bool]:
        """For each order, whether this claimant counts it: the first claim of an order
        wins (a second one in the same list, or from a retried batch, does not)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.set(order_counted_key(order_id), claimant, nx=True, ex=ORDER_COUNTED_TTL_S)
            return [bool(won) for won in await pipe.execute()]

    async def release_orders(self, order_ids: list[str], claimant: str) -> None:
        """Forgets this claimant's claims (their events were not sent: a retry counts them)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.eval(_RELEASE, 1, order_counted_key(order_id), claimant)
            await pipe.execute()
