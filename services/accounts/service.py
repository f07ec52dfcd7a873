"""Accounts' use cases: sign-ups with invitations, follows with their limit, invitations and
suspensions. They decide; the ports (ports.py: the stores in production, fakes in tests)
read, lock and write, and keep what only the database can guarantee (locks, unique handles)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.accounts import domain
from services.accounts.ports import AccountRepository, AccountRow, FollowRepository, IdSource, Pair


@dataclass
class Outcome:
    """What a batch did: what it created or changed, and which items were refused, why."""

    created: list[AccountRow] = field(default_factory=list)
    changed: int = 0
    refused: list[tuple[int, domain.AccountsError]] = field(default_factory=list)

    def raise_first_refusal(self) -> None:
        """Raises the refusal of the first refused item, if any was."""
        if self.refused:
            raise self.refused[0][1]


def _taken(handle: str) -> domain.HandleTaken:
    return domain.HandleTaken(f"handle {handle!r} is taken", handle=handle)


class AccountService:
    """Sign-ups, invitations, suspensions and follows."""

    def __init__(
        self,
        accounts: AccountRepository,
        follows: FollowRepository,
        ids: IdSource,
        following_limit: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.accounts = accounts
        self.follows = follows
        self.ids = ids
        self.following_limit = following_limit
        self.clock = clock

    async def create_account(self, new: domain.NewAccount) -> AccountRow:
        """Creates an account, using its invitation: both or neither happen."""
        domain.check_new_account(new)
        outcome = await self.create_accounts([new])
        outcome.raise_first_refusal()
        return outcome.created[0]

    async def create_accounts(self, batch: list[domain.NewAccount]) -> Outcome:
        """Creates many accounts in one transaction with the rules of one at a time;
        refusals are listed by index, the created in request order.

        Invitations are locked and counted under the lock, so uses never pass max_uses
        however many sign-ups race.
        """
        now, outcome = self.clock(), Outcome()
        codes = {n.invitation_code for n in batch if n.kind in domain.OPERATOR_KINDS}
        async with self.accounts.writing() as tx:
            invitations = await tx.lock_invitations(sorted(c for c in codes if c))
            uses = {code: invitation.uses for code, invitation in invitations.items()}
            admitted: dict[str, tuple[int, int, domain.NewAccount]] = {}
            for index, new in enumerate(batch):
                try:
                    domain.check_new_account(new)
                    if new.handle in admitted:
                        raise _taken(new.handle)
                    if new.kind in domain.OPERATOR_KINDS:
                        code = new.invitation_code or ""
                        known = invitations.get(code)
                        current = replace(known, uses=uses[code]) if known else None
                        reason = domain.invitation_refusal(current, new.kind, now)
                        if reason:
                            raise domain.InvitationInvalid(
                                f"invitation code is not valid ({reason})", reason=reason
                            )
                        uses[code] += 1
                    admitted[new.handle] = (index, self.ids.next_id(), new)
                except domain.AccountsError as refusal:
                    outcome.refused.append((index, refusal))
            chosen = list(admitted.values())
            created = await tx.add_accounts([(account_id, new) for _, account_id, new in chosen])
            made = {r["handle"] for r in created}
            for index, _, new in chosen:
                if new.handle not in made:  # taken by an account that existed before
                    outcome.refused.append((index, _taken(new.handle)))
                    if new.kind in domain.OPERATOR_KINDS:
                        uses[new.invitation_code or ""] -= 1
            used = {c: n for c, n in uses.items() if n != invitations[c].uses}
            if used:
                await tx.set_invitation_uses(used)
        order = {new.handle: index for index, _, new in chosen}
        outcome.created = sorted(created, key=lambda r: order[r["handle"]])
        outcome.refused.sort(key=lambda item: item[0])
        return outcome

    async def create_invitation(
        self, new: domain.NewInvitation, created_by: str
    ) -> Mapping[str, Any]:
        """Issues a new code for the kinds asked (every operator kind when none is)."""
        domain.check_new_invitation(new)
        kinds: list[str] = sorted(set(new.kinds)) if new.kinds else list(domain.OPERATOR_KINDS)
        async with self.accounts.writing() as tx:
            return await tx.add_invitation(domain.new_invitation_code(), new, kinds, created_by)

    async def set_status(self, account_id: int, status: str) -> None:
        """Suspends or reinstates an account; a no-op (no event) when it already is so."""
        async with self.accounts.writing() as tx:
            await tx.set_status(account_id, status)

    async def follow(self, user_id: int, account_id: int, source: str) -> bool:
        """Makes user follow account; False when it already did (nothing changes then)."""
        outcome = await self.change_follows([(user_id, account_id)], True, source)
        outcome.raise_first_refusal()
        return outcome.changed == 1

    async def unfollow(self, user_id: int, account_id: int) -> bool:
        """Ends a follow; False when there was none (nothing changes then)."""
        outcome = await self.change_follows([(user_id, account_id)], False, "api")
        outcome.raise_first_refusal()
        return outcome.changed == 1

    async def change_follows(self, pairs: list[Pair], following: bool, source: str) -> Outcome:
        """Follows (or unfollows) many pairs in one transaction, with the rules and events
        of one at a time; pairs breaking a rule are refused, by index."""
        now, outcome = self.clock(), Outcome()
        async with self.follows.writing() as tx:
            # Every account of the batch stays locked to the commit, so following_count is
            # exact for the limit and no concurrent follow can overshoot it.
            sides = await tx.lock_accounts(sorted({i for pair in pairs for i in pair}))
            valid: list[tuple[int, Pair]] = []
            for index, (user_id, account_id) in enumerate(pairs):
                try:
                    for one in (user_id, account_id):
                        if one not in sides:
                            raise domain.AccountNotFound("account not found", account_id=str(one))
                    if following:
                        domain.check_follow(user_id, account_id, sides[account_id].kind)
                    valid.append((index, (user_id, account_id)))
                except domain.AccountsError as refusal:
                    outcome.refused.append((index, refusal))
            if following and valid:
                past_limit = domain.follows_past_limit(
                    valid,
                    {i: side.following_count for i, side in sides.items()},
                    await tx.active_follows([pair for _, pair in valid]),
                    self.following_limit,
                )
                outcome.refused.extend(past_limit)
                refused_now = {index for index, _ in past_limit}
                valid = [(index, pair) for index, pair in valid if index not in refused_now]
            outcome.refused.sort(key=lambda item: item[0])
            if valid:
                # Sorted, so that concurrent batches lock follow rows in one order.
                chosen = sorted({pair for _, pair in valid})
                outcome.changed = await tx.change_follows(chosen, following, source, now)
        return outcome
