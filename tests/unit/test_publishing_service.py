"""Publishing's use cases (service.PostService) on in-memory fakes: the quota of a
Shanghai day, near-copies, who may publish, and retraction after a late suspension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from services.publishing import domain, new_post
from services.publishing.ports import LivePost
from services.publishing.service import InteractionService, PostService
from shared.auth import Principal
from shared.events import AccountChanged
from tests.events import seller_changed
from tests.unit.fakes_publishing import FakeIds, FakeInteractions, FakePostRepository

SHOP, OTHER_SHOP, FAN = 1, 2, 3
ACTIVE = domain.Author("seller", "home", "active")
TEXT = "今天上新的竹编收纳篮，手工编织，结实耐用，适合放在客厅和卧室里收纳杂物。"
AT_2359 = datetime(2031, 3, 1, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
AT_0000 = datetime(2031, 3, 1, 16, 0, tzinfo=UTC)  # the next Shanghai day


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def repo() -> FakePostRepository:
    return FakePostRepository(
        {SHOP: ACTIVE, OTHER_SHOP: ACTIVE, FAN: domain.Author("consumer", None, "active")}
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(AT_2359 - timedelta(hours=2))


@pytest.fixture
def service(repo: FakePostRepository, clock: Clock) -> PostService:
    return PostService(repo, FakeIds(), 3, clock)


def post(body: str = TEXT, **fields: Any) -> new_post.NewPost:
    return msgspec.convert(
        {"kind": "article", "title": "新品", "body": body, **fields}, new_post.NewPost
    )


async def test_fourth_post_of_the_shanghai_day_is_refused(service):
    for n in (1, 2, 3):
        assert (await service.publish(SHOP, post(f"第{n}条"))).used == n
    with pytest.raises(domain.DailyQuotaExceeded) as refusal:
        await service.publish(SHOP, post("第四条"))
    assert refusal.value.details["resets_at"] == "2031-03-01T16:00:00.000Z"


async def test_third_post_at_2359_and_one_at_midnight_both_pass(service, clock):
    await service.publish(SHOP, post("一"))
    await service.publish(SHOP, post("二"))
    clock.now = AT_2359
    assert (await service.publish(SHOP, post("三"))).used == 3
    clock.now = AT_0000
    done = await service.publish(SHOP, post("四"))
    assert (done.used, done.resets_at.isoformat()) == (1, "2031-03-03T00:00:00+08:00")


async def test_near_copy_of_another_accounts_post_is_refused_naming_the_original(service, repo):
    original = await service.publish(OTHER_SHOP, post())
    with pytest.raises(domain.DuplicateContent) as refusal:
        await service.publish(SHOP, post(TEXT.replace("客厅", "书房")))
    assert refusal.value.details["original_post_id"] == str(original.post["id"])
    assert repo.live(SHOP) == []


async def test_an_account_may_repeat_its_own_post(service, repo):
    await service.publish(SHOP, post())
    await service.publish(SHOP, post())
    assert len(repo.live(SHOP)) == 2


async def test_a_deleted_original_no_longer_refuses_a_copy(service, repo):
    original = await service.publish(OTHER_SHOP, post())
    await service.delete(int(original.post["id"]), Principal(str(OTHER_SHOP), "user"))
    await service.publish(SHOP, post())
    assert len(repo.live(SHOP)) == 1


@pytest.mark.parametrize(
    ("author", "refusal"),
    [
        (None, domain.AuthorNotFound),
        (domain.Author("consumer", None, "active"), domain.NotAnOperator),
        (domain.Author("seller", "home", "suspended"), domain.AccountSuspended),
    ],
)
async def test_an_author_who_may_not_publish_is_refused_without_a_fingerprint(
    repo, clock, author, refusal
):
    repo.authors = {SHOP: author} if author else {}
    fingerprinted: list[str] = []
    service = PostService(repo, FakeIds(), 3, clock, lambda t, b: fingerprinted.append(b))
    with pytest.raises(refusal):
        await service.publish(SHOP, post())
    assert (fingerprinted, repo.posts, repo.outbox) == ([], {}, [])


async def test_a_post_over_the_quota_is_never_fingerprinted(repo, clock):
    fingerprinted: list[str] = []
    service = PostService(repo, FakeIds(), 1, clock, lambda t, b: fingerprinted.append(b))
    await service.publish(SHOP, post())
    with pytest.raises(domain.DailyQuotaExceeded):
        await service.publish(SHOP, post())
    assert len(fingerprinted) == 1


async def test_a_post_without_its_category_takes_the_authors(service):
    assert (await service.publish(SHOP, post())).post["category"] == "home"
    assert (await service.publish(SHOP, post(category="food"))).post["category"] == "food"


async def test_only_the_author_a_service_or_staff_delete_a_post(service, repo):
    done = await service.publish(SHOP, post())
    post_id = int(done.post["id"])
    with pytest.raises(Exception, match="not allowed"):
        await service.delete(post_id, Principal(str(OTHER_SHOP), "user"))
    await service.delete(post_id, Principal("ops", "staff"))
    assert repo.outbox[-1] == ("post.deleted", post_id)


def account_changed(status: str, version: int, at: datetime) -> AccountChanged:
    return seller_changed(
        SHOP,
        status,
        version,
        change=status,
        category="home",
        created_at="2031-01-01T00:00:00.000Z",
        changed_at=at.isoformat(),
    )


async def test_a_suspension_learnt_late_retracts_only_posts_accepted_after_it(service, repo, clock):
    before = await service.publish(SHOP, post("暂停之前"))
    suspended_at = clock.now + timedelta(minutes=1)
    clock.now = suspended_at + timedelta(minutes=1)
    lagging = await service.publish(SHOP, post("暂停之后"))
    suspension = account_changed("suspended", 2, suspended_at)

    retracted = await service.apply_accounts([domain.AccountChange.of(suspension)])
    again = await service.apply_accounts([domain.AccountChange.of(suspension)])  # redelivered

    assert (retracted, again) == ([lagging.post["id"]], [])
    assert repo.live(SHOP) == [before.post["id"]]
    with pytest.raises(domain.AccountSuspended):
        await service.publish(SHOP, post("又一条"))


# ---------------------------------------------------------------- interactions

VOTE_POST, ARTICLE = 10, 11
FAN_B = 7


@pytest.fixture
def interactions() -> FakeInteractions:
    vote = {"options": ["红", "蓝"], "closes_at": "2031-03-02T00:00:00.000Z"}
    return FakeInteractions(
        [LivePost(VOTE_POST, SHOP, "vote", vote), LivePost(ARTICLE, SHOP, "article", None)]
    )


@pytest.fixture
def talk(interactions: FakeInteractions, clock: Clock) -> InteractionService:
    return InteractionService(interactions, FakeIds(), clock)


async def test_a_comment_is_deleted_by_its_author_the_posts_owner_or_staff_only(talk):
    ids = [int((await talk.comment(ARTICLE, FAN, "好看"))["id"]) for _ in range(3)]
    with pytest.raises(domain.NotAllowed):
        await talk.delete_comment(ARTICLE, ids[0], Principal(str(FAN_B), "user"))
    await talk.delete_comment(ARTICLE, ids[0], Principal(str(FAN), "user"))
    await talk.delete_comment(ARTICLE, ids[1], Principal(str(SHOP), "user"))
    await talk.delete_comment(ARTICLE, ids[2], Principal("ops", "staff"))
    assert await talk.comments(ARTICLE, 10, None) == []
    with pytest.raises(domain.CommentNotFound):
        await talk.delete_comment(ARTICLE, ids[0], Principal(str(FAN), "user"))


async def test_interactions_with_a_missing_post_are_404(talk):
    with pytest.raises(domain.PostNotFound):
        await talk.comment(99, FAN, "在吗")
    with pytest.raises(domain.PostNotFound):
        await talk.like(99, FAN, True)


async def test_a_repeated_like_emits_once(talk, interactions):
    for liked in (True, True, False, False):
        await talk.like(ARTICLE, FAN, liked)
    assert interactions.events == [("like", FAN), ("unlike", FAN)]


async def test_a_vote_takes_an_option_by_text_or_position_while_open(talk, interactions, clock):
    await talk.vote(VOTE_POST, FAN, "蓝")
    await talk.vote(VOTE_POST, FAN_B, 0)
    assert interactions.votes == {(VOTE_POST, FAN): 1, (VOTE_POST, FAN_B): 0}
    with pytest.raises(domain.InvalidPost):
        await talk.vote(VOTE_POST, FAN, "绿")
    with pytest.raises(domain.NotAVote):
        await talk.vote(ARTICLE, FAN, 0)
    clock.now = datetime(2031, 3, 2, tzinfo=UTC)
    with pytest.raises(domain.VoteClosed):
        await talk.vote(VOTE_POST, FAN, 0)
