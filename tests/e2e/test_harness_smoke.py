"""The load harness's `smoke` scenario against the running stack: it builds its world,
drives every kind of traffic, and reports. Asserted on correctness only, never speed:
every sampled post became visible, no request got a 5xx, and insights flagged the world's
bought-follower burst and next to none of its organic follows."""

from __future__ import annotations

from bench.harness import SCENARIOS, run_scenario


async def test_the_smoke_scenario_sees_every_sampled_post_and_no_server_error(stack):
    result = await run_scenario(SCENARIOS["smoke"], stack, runs=1, ceilings=False)
    (run,) = result["runs"]
    assert run["never_visible"] == []
    assert sum(b["count"] for b in run["publish_to_visible"].values()) >= 10
    assert {"read", "publish", "follow", "events"} <= set(run["requests"])
    for kind, figures in run["requests"].items():
        assert figures["server_errors"] == 0, (kind, figures["statuses"])
        assert figures["count"] > 0
    assert result["timeline"], "the live sampler recorded nothing"
    insights = result["insights"]
    assert insights["bought_flagged"] == insights["bought_followers"] > 0
    # The traffic's own follows come from accounts minutes old, which is what a fresh-account
    # burst looks like; a stray one may be flagged, never a share of the world.
    assert insights["organic_followers_flagged"] <= insights["organic_follows"] // 100
