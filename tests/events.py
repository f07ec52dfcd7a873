"""Events the tests feed to handlers and use cases, built one way."""

from __future__ import annotations

from shared.events import AccountChanged


def seller_changed(
    account_id: int | str,
    status: str = "active",
    version: int = 1,
    *,
    change: str | None = None,
    category: str = "beauty",
    created_at: str = "2026-11-25T00:00:00.000Z",
    changed_at: str | None = None,
) -> AccountChanged:
    """A seller account's `account.changed` (the change is named after the status unless
    given: `created` for an active account)."""
    return AccountChanged(
        account_id=str(account_id),
        handle=f"h{account_id}",
        kind="seller",
        display_name="店",
        category=category,
        status=status,
        created_at=created_at,
        change=change or ("created" if status == "active" else status),
        version=version,
        changed_at=changed_at,
    )
