"""The account as other services show it, typed once: `AccountView` is the author of a
feed item (feedread), an account in a ranking (insights), and accounts' own account
responses without their counters.

Fields are add-only, like an event's; decoding ignores fields it does not know."""

from __future__ import annotations

import msgspec


class AccountView(msgspec.Struct):
    """An account as API.md shows it, without counters."""

    id: str
    handle: str
    kind: str
    display_name: str
    category: str | None
    status: str
