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
# Users considered per account (the highest ids, i.e. the newest accounts: a stable
# choice): bounds the pair loop, which is quadratic in it.
MAX_USERS_PER_ITEM = 200
# A user with more interactions than this in the window is left out: their weight would
# be tiny anyway, and they make every pair loop they are in long.
MAX_ITEMS_PER_USER = 500


def user_weight(items: int) -> float:
    return (items + ALPHA1) ** -BETA


def swing(items_of_user: Mapping[int, Set[int]]) -> dict[int, dict[int, float]]:
    """score[i][j] for every pair of items related by at least MIN_COMMON_USERS users.

    Item by item: the pairs of i's users (at most MAX_USERS_PER_ITEM of them) give i's
    row, so no set of all user pairs is ever held."""
    users_of_item: dict[int, list[int]] = defaultdict(list)
    for user in sorted(items_of_user):
        if len(items_of_user[user]) <= MAX_ITEMS_PER_USER:
            for item in items_of_user[user]:
                users_of_item[item].append(user)
    weight = {u: user_weight(len(items)) for u, items in items_of_user.items()}
    scores: dict[int, dict[int, float]] = {}
    for i, users in users_of_item.items():
        row: dict[int, float] = defaultdict(float)
        co_users: dict[int, set[int]] = defaultdict(set)
        for u, v in combinations(users[-MAX_USERS_PER_ITEM:], 2):
            common = items_of_user[u] & items_of_user[v]
            if len(common) < 2:
                continue
            contribution = weight[u] * weight[v] / (ALPHA + len(common))
            for j in common:
                if j != i:
                    row[j] += contribution
                    co_users[j].update((u, v))
        kept = {j: s for j, s in row.items() if len(co_users[j]) >= MIN_COMMON_USERS}
        if kept:
            scores[i] = kept
    return scores


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
