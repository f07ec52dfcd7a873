"""Insights settings, read once from the environment (defaults: shared.config.LOCAL_DEFAULTS,
and the insights-only defaults below)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Common, Env

# Insights-only settings and their defaults (not in LOCAL_DEFAULTS: no other service reads them).
DEFAULTS = {
    # Shanghai days of activity the official recommendation looks at (issue: "last 3 days").
    "WEITAO_INSIGHTS_OFFICIAL_DAYS": "3",
    # Days of favourites, purchases and follows Swing relates accounts from.
    "WEITAO_INSIGHTS_SWING_DAYS": "30",
    # Seconds between refreshes of the official ranking (only accounts that changed).
    "WEITAO_INSIGHTS_OFFICIAL_REFRESH_S": "1",
    # Seconds between recomputations of every account's Swing list (a full pass: about
    # 7 s of one core over the local stack's 1.55 million follows).
    "WEITAO_INSIGHTS_SWING_REFRESH_S": "60",
    # After a pass Swing rests at least this many times as long as the pass took (3: at
    # most a quarter of one core, however long a pass grows).
    "WEITAO_INSIGHTS_SWING_REST_PER_PASS": "3",
}


@dataclass(frozen=True)
class InsightsConfig:
    common: Common
    port: int
    official_days: int
    swing_days: int
    official_refresh_s: float
    swing_refresh_s: float
    swing_rest_per_pass: float

    @classmethod
    def from_env(cls, env: Env | None = None) -> InsightsConfig:
        env = env or Env.from_os()
        own = Env({**DEFAULTS, **{k: v for k, v in env.values.items() if v}})
        return cls(
            common=Common.from_env(env),
            port=env.int("WEITAO_INSIGHTS_PORT"),
            official_days=own.int("WEITAO_INSIGHTS_OFFICIAL_DAYS"),
            swing_days=own.int("WEITAO_INSIGHTS_SWING_DAYS"),
            official_refresh_s=own.float("WEITAO_INSIGHTS_OFFICIAL_REFRESH_S"),
            swing_refresh_s=own.float("WEITAO_INSIGHTS_SWING_REFRESH_S"),
            swing_rest_per_pass=own.float("WEITAO_INSIGHTS_SWING_REST_PER_PASS"),
        )
