"""Official recommendation math: empirical Bayes shrinkage per category, percentiles,
the weighted score, and the counter-examples the issue names."""

from __future__ import annotations

import math

import pytest

from services.insights.ranking import (
    DEFAULT_PRIOR_STRENGTH,
    FALLBACK_MEAN,
    MAX_PRIOR_STRENGTH,
    WEIGHTS,
    Observed,
    Prior,
    bayes_prior,
    beta_prior,
    percentiles,
    rank_category,
)


def account(visitors: int, buyers: int, revisits: int = 0, views: int = 0, dwell=(0, 0)):
    return {
        "conversion_rate": Observed(buyers, visitors),
        "revisit_rate": Observed(revisits, visitors),
        "views_per_visitor": Observed(views or visitors, visitors),
        "avg_dwell_ms": Observed(*dwell),
    }


def test_weights_are_named_and_sum_to_one():
    assert set(WEIGHTS) == {"revisit_rate", "avg_dwell_ms", "views_per_visitor", "conversion_rate"}
    assert math.isclose(sum(WEIGHTS.values()), 1.0)


def test_beta_prior_is_fitted_by_the_method_of_moments_net_of_binomial_noise():
    rates = [Observed(10, 100), Observed(40, 100), Observed(70, 100)]
    prior = beta_prior(rates, 0.5)
    mean = 0.4
    observed = ((0.1 - 0.4) ** 2 + 0 + (0.7 - 0.4) ** 2) / 3  # 0.06
    noise = mean * (1 - mean) * 3 / 300  # 0.0024
    assert prior.mean == pytest.approx(mean)
    assert prior.strength == pytest.approx(mean * (1 - mean) / (observed - noise) - 1)


def test_rates_that_differ_only_by_noise_get_the_strongest_prior():
    prior = beta_prior([Observed(1, 10), Observed(2, 10), Observed(3, 10)], 0.5)
    assert prior.strength == MAX_PRIOR_STRENGTH


def test_a_category_without_data_gets_the_fallback_prior():
    prior = beta_prior([Observed(0, 0)], FALLBACK_MEAN["conversion_rate"])
    assert prior == Prior(FALLBACK_MEAN["conversion_rate"], DEFAULT_PRIOR_STRENGTH)
    assert bayes_prior([], 1.0).mean == 1.0


def test_three_visitors_and_one_purchase_do_not_outrank_three_thousand_and_six_hundred():
    ranked = rank_category(
        {
            1: account(visitors=3, buyers=1),
            2: account(visitors=3000, buyers=600),
            3: account(visitors=500, buyers=10),
            4: account(visitors=800, buyers=8),
        }
    )
    conversion = {r.account_id: r.components["conversion_rate"] for r in ranked}
    assert conversion[1]["raw"] > conversion[2]["raw"]  # 0.33 > 0.2 before shrinkage
    assert conversion[1]["shrunk"] < conversion[2]["shrunk"]
    assert conversion[1]["percentile"] < conversion[2]["percentile"]


def test_an_account_with_no_data_gets_the_prior_never_zero_or_nan():
    ranked = rank_category({1: account(0, 0), 2: account(100, 10, 20, 150, (50_000, 10))})
    empty = next(r for r in ranked if r.account_id == 1)
    for name, component in empty.components.items():
        assert component["raw"] is None
        assert component["shrunk"] is not None and not math.isnan(component["shrunk"])
        assert component["shrunk"] > 0 or (name == "avg_dwell_ms" and component["shrunk"] >= 0)
    assert not math.isnan(empty.score)


def test_score_is_the_weighted_sum_of_percentiles_and_every_component_is_shown():
    ranked = rank_category(
        {1: account(100, 30, 50, 300, (9000, 100)), 2: account(100, 1, 5, 100, (1000, 100))}
    )
    best = ranked[0]
    assert best.account_id == 1
    for component in best.components.values():
        assert set(component) == {"raw", "shrunk", "percentile", "weight"}
    expected = sum(c["percentile"] * c["weight"] for c in best.components.values())
    assert best.score == pytest.approx(expected, abs=1e-5)


def test_percentiles_count_half_of_the_ties():
    assert percentiles({1: 1.0, 2: 2.0, 3: 2.0, 4: 3.0}) == {1: 0.125, 2: 0.5, 3: 0.5, 4: 0.875}
