"""Words of API.md that several services share."""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
    "women_fashion",
    "men_fashion",
    "shoes_bags",
    "beauty",
    "mother_baby",
    "home",
    "food",
    "digital",
    "sports_outdoor",
    "tea_drinks",
    "other",
]
CATEGORIES: tuple[str, ...] = get_args(Category)
