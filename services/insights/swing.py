"""Swing (Alibaba's item-to-item relatedness, Yang et al. 2020), pure, over accounts.

For accounts i and j, the sum over pairs of users u, v who both interacted with both of
w_u * w_v / (ALPHA + |I_u ∩ I_v|), with w_u = (|I_u| + ALPHA1) ** -BETA: two users who
share little besides i and j say much about i and j; two who touch everything (a click
farm) say little, and heavy users weigh less. Pairs are unordered, each counted once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Set
from itertools import combinations

ALPHA = 1.0  # keeps the denominator above 0 and damps pairs that share only i and j
ALPHA1 = 5.0  # user-weight smoothing: a user with 1 item is not worth 5x one with 20
BETA = 0.3  # how much a user's many interactions discount them (0: not at all)
MIN_COMMON_USERS = 2  # a relation seen through one user is anecdote, not signal
TOP_K = 100  # related accounts kept per account (issue: "top 100 per account")
# Users considered per account, newest first: bounds the pair loop (quadratic in it).
MAX_USERS_PER_ITEM = 1000


def user_weight(items: int) -> float:
    return (items + ALPHA1) ** -BETA


def swing(items_of_user: Mapping[int, Set[int]]) -> dict[int, dict[int, float]]:
    """score[i][j] for every pair of items related by at least MIN_COMMON_USERS users."""
    users_of_item: dict[int, list[int]] = defaultdict(list)
    for user, items in items_of_user.items():
        for item in items:
            users_of_item[item].append(user)
    pairs: set[tuple[int, int]] = set()
    for users in users_of_item.values():
        pairs.update(combinations(sorted(users[:MAX_USERS_PER_ITEM]), 2))
    scores: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for u, v in pairs:
        common = items_of_user[u] & items_of_user[v]
        if len(common) < 2:
            continue
        contribution = (
            user_weight(len(items_of_user[u]))
            * user_weight(len(items_of_user[v]))
            / (ALPHA + len(common))
        )
        for i in common:
            for j in common:
                if i != j:
                    scores[i][j] += contribution
    co_users = co_occurrence(items_of_user)
    return {
        i: {j: s for j, s in related.items() if co_users[i][j] >= MIN_COMMON_USERS}
        for i, related in scores.items()
    }


def co_occurrence(items_of_user: Mapping[int, Set[int]]) -> dict[int, dict[int, int]]:
    """How many users interacted with both i and j (the plain baseline)."""
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for items in items_of_user.values():
        for i in items:
            for j in items:
                if i != j:
                    counts[i][j] += 1
    return counts


def top(related: Mapping[int, float], k: int = TOP_K) -> list[tuple[int, float]]:
    """The k best (item, score), best first; ties by item id for a stable order."""
    return sorted(related.items(), key=lambda p: (-p[1], p[0]))[:k]
