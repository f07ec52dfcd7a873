"""Official recommendation math, pure: per-category empirical Bayes shrinkage of each
account's activity components, within-category percentiles, a weighted score.

Rates (revisit rate, purchase conversion) get a Beta prior fitted per category by the
method of moments; averages (dwell, page views per visitor) a Bayesian average whose
prior mean is the category's pooled mean. An account with no data gets the prior:
never 0, never NaN. Formulas and constants: docs/insights.md."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

# Weights of the components' percentiles in the score (they sum to 1).
WEIGHTS: Mapping[str, float] = {
    # Purchase conversion is what the platform exists for (成交转化) and costs money to fake.
    "conversion_rate": 0.35,
    # Revisits show content worth coming back to; a returning visitor is hard to fake cheaply.
    "revisit_rate": 0.30,
    # Dwell says a page was read, not bounced; clients report it, so it weighs less.
    "avg_dwell_ms": 0.20,
    # Page views per visitor are the easiest to inflate (reloads), so they weigh least.
    "views_per_visitor": 0.15,
}
RATES = ("revisit_rate", "conversion_rate")
AVERAGES = ("avg_dwell_ms", "views_per_visitor")

# Prior strength (alpha + beta) bounds: below 2 the prior is weaker than one observation
# of each outcome; above 1,000 no account's own data could ever move it.
MIN_PRIOR_STRENGTH = 2.0
MAX_PRIOR_STRENGTH = 1000.0
# Used when a category has too few accounts with data to fit a spread.
DEFAULT_PRIOR_STRENGTH = 20.0
MIN_ACCOUNTS_TO_FIT = 3
# The Bayesian average counts the prior as this many observations at the category mean
# when the category's typical count cannot say (see bayes_prior).
DEFAULT_AVERAGE_WEIGHT = 10.0
# Priors before any data at all: a quiet platform still ranks without NaN.
FALLBACK_MEAN = {
    "revisit_rate": 0.1,
    "conversion_rate": 0.02,
    "avg_dwell_ms": 0.0,
    "views_per_visitor": 1.0,
}


@dataclass(frozen=True)
class Observed:
    """One component of one account: `total` over `count` trials/observations."""

    total: float
    count: float

    @property
    def raw(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass(frozen=True)
class Prior:
    mean: float
    strength: float  # alpha + beta for a Beta prior; pseudo-observations for an average

    def shrink(self, observed: Observed) -> float:
        """The posterior mean: (total + strength*mean) / (count + strength)."""
        return (observed.total + self.strength * self.mean) / (observed.count + self.strength)


def beta_prior(observations: Sequence[Observed], fallback_mean: float) -> Prior:
    """A Beta prior fitted by the method of moments to the accounts' rates.

    The mean is pooled (successes over trials). The spread between accounts is the
    trial-weighted variance of their rates less what binomial noise alone would give
    (a 3-visitor account's rate is mostly noise, not evidence of spread), and
    alpha+beta = mean(1-mean)/spread - 1, bounded."""
    seen = [o for o in observations if o.count > 0]
    trials = sum(o.count for o in seen)
    mean = sum(o.total for o in seen) / trials if trials else fallback_mean
    mean = min(max(mean, 1e-6), 1 - 1e-6)
    strength = DEFAULT_PRIOR_STRENGTH
    if len(seen) >= MIN_ACCOUNTS_TO_FIT:
        observed = sum(o.count * (o.total / o.count - mean) ** 2 for o in seen) / trials
        noise = mean * (1 - mean) * len(seen) / trials
        spread = observed - noise
        strength = mean * (1 - mean) / spread - 1 if spread > 0 else MAX_PRIOR_STRENGTH
    return Prior(mean, min(max(strength, MIN_PRIOR_STRENGTH), MAX_PRIOR_STRENGTH))


def bayes_prior(observations: Sequence[Observed], fallback_mean: float) -> Prior:
    """A Bayesian average's prior: the category's pooled mean, weighted as many
    observations as the category's typical (mean) account has."""
    seen = [o for o in observations if o.count > 0]
    count = sum(o.count for o in seen)
    mean = sum(o.total for o in seen) / count if count else fallback_mean
    weight = fmean(o.count for o in seen) if seen else DEFAULT_AVERAGE_WEIGHT
    return Prior(mean, max(weight, 1.0))


def percentiles(values: Mapping[int, float]) -> dict[int, float]:
    """Each key's percentile rank in 0..1: share below it plus half the ties."""
    ordered = sorted(values.values())
    n = len(ordered)
    result = {}
    for key, value in values.items():
        below = _count_below(ordered, value)
        ties = _count_below(ordered, value, inclusive=True) - below
        result[key] = (below + 0.5 * ties) / n
    return result


def _count_below(ordered: list[float], value: float, inclusive: bool = False) -> int:
    return (bisect_right if inclusive else bisect_left)(ordered, value)


@dataclass(frozen=True)
class Ranked:
    account_id: int
    score: float
    components: dict[str, dict[str, float | None]]


def rank_category(accounts: Mapping[int, Mapping[str, Observed]]) -> list[Ranked]:
    """Scores every account of one category from its components, best first."""
    if not accounts:
        return []
    shrunk: dict[str, dict[int, float]] = {}
    for name in WEIGHTS:
        column = [a[name] for a in accounts.values()]
        fit = beta_prior if name in RATES else bayes_prior
        prior = fit(column, FALLBACK_MEAN[name])
        shrunk[name] = {aid: prior.shrink(a[name]) for aid, a in accounts.items()}
    ranks = {name: percentiles(values) for name, values in shrunk.items()}
    result = []
    for aid, components in accounts.items():
        detail = {
            name: {
                "raw": _rounded(components[name].raw),
                "shrunk": _rounded(shrunk[name][aid]),
                "percentile": _rounded(ranks[name][aid]),
                "weight": weight,
            }
            for name, weight in WEIGHTS.items()
        }
        score = sum(ranks[name][aid] * weight for name, weight in WEIGHTS.items())
        result.append(Ranked(aid, round(score, 6), detail))
    result.sort(key=lambda r: (-r.score, r.account_id))
    return result


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
