"""Swing on a hand-built interaction table, and a click farm moving Swing's related
lists less than plain co-occurrence's."""

from __future__ import annotations

import random

import pytest

from services.insights.swing import co_occurrence, swing, top

A, B, C = 1, 2, 3


def test_swing_scores_of_a_tiny_table_match_the_hand_computation():
    # u1 {A,B}, u2 {A,B,C}, u3 {B,C}, u4 {A,B,C}; w(n) = (n + 5) ** -0.3, alpha = 1.
    # w(2) = 7^-0.3 = 0.557783, w(3) = 8^-0.3 = 0.535887.
    # Pairs sharing at least two accounts:
    #   (u1,u2) {A,B}   : w2*w3/3 = 0.298909/3 = 0.099636 -> AB
    #   (u1,u4) {A,B}   : same                  0.099636 -> AB
    #   (u2,u3) {B,C}   : w3*w2/3               0.099636 -> BC
    #   (u3,u4) {B,C}   : same                  0.099636 -> BC
    #   (u2,u4) {A,B,C} : w3*w3/4 = 0.287175/4 = 0.071794 -> AB, AC, BC
    # (u1,u3) share only B: no contribution.
    table = {11: {A, B}, 12: {A, B, C}, 13: {B, C}, 14: {A, B, C}}
    scores = swing(table)
    assert scores[A][B] == pytest.approx(0.099636 * 2 + 0.071794, abs=1e-5)  # 0.271066
    assert scores[B][C] == pytest.approx(0.271066, abs=1e-5)
    assert scores[A][C] == pytest.approx(0.071794, abs=1e-5)
    assert scores[A][B] == scores[B][A]


def _world(farm: bool) -> dict[int, set[int]]:
    """Ten categories of ten accounts; honest users like two or three neighbouring
    accounts of one category. With `farm`, 40 farm accounts each touch a random half of
    all 100 accounts (seeded)."""
    rng = random.Random(5)
    table: dict[int, set[int]] = {}
    user = 0
    for category in range(10):
        accounts = [category * 10 + i for i in range(10)]
        for start in range(10):
            for width in (2, 3):
                user += 1
                table[user] = {accounts[(start + k) % 10] for k in range(width)}
    if farm:
        for _ in range(40):
            user += 1
            table[user] = set(rng.sample(range(100), 50))
    return table


def _kept(before: dict, after: dict, k: int) -> float:
    """Share of every account's top-k related accounts still there after the farm."""
    kept = sum(
        len({i for i, _ in top(before[a], k)} & {i for i, _ in top(after[a], k)}) for a in before
    )
    return kept / (k * len(before))


def test_a_click_farm_moves_swing_less_than_plain_co_occurrence():
    clean, farmed = _world(False), _world(True)
    swing_kept = _kept(swing(clean), swing(farmed), 2)
    co_kept = _kept(co_occurrence(clean), co_occurrence(farmed), 2)
    assert swing_kept >= 0.9  # measured: 1.0
    assert co_kept <= 0.5  # measured: 0.24
