"""Prometheus metrics made once per registry: a component built again in the same process
(a background loop restarted by its supervisor, a second consumer loop) shares them."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter

_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Counter]] = (
    weakref.WeakKeyDictionary()
)


def counter(
    registry: CollectorRegistry, name: str, documentation: str, labels: tuple[str, ...] = ()
) -> Counter:
    """The registry's counter `name`, made on first use."""
    made = _COUNTERS.setdefault(registry, {})
    if name not in made:
        made[name] = Counter(name, documentation, labels, registry=registry)
    return made[name]
