"""shared.runtime.quiet_gc: once a service has started, what startup made is left out of
collections and the collector runs less often."""

from __future__ import annotations

import gc

from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.runtime import GC_THRESHOLDS, quiet_gc


async def test_a_started_app_has_its_startup_objects_frozen_and_the_collector_tuned():
    before = gc.get_threshold()
    app = web.Application()
    quiet_gc(app)
    try:
        assert gc.get_threshold() == before  # nothing changes until the app starts
        async with TestServer(app):
            assert gc.get_threshold() == GC_THRESHOLDS
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
