"""Copied-content detection, with real pairs: near-copies are caught, different notes of
the same shop category are not, and normalisation folds what copiers change."""

from __future__ import annotations

import pytest

from services.publishing.similarity import (
    BANDS,
    NEAR_COPY,
    fingerprint,
    normalize,
    similarity,
)

ORIGINAL = (
    "秋冬新款羊毛双面呢大衣",
    "这款大衣采用澳洲美利奴羊毛，双面呢工艺，手工缝制，版型宽松不挑身材。"
    "颜色有燕麦色、焦糖色和经典黑，今晚八点开抢，前一百名下单送同色系围巾。",
)

NEAR_COPIES = {
    "three characters changed": (
        "秋冬新款羊毛双面呢大衣",
        "这款大衣采用澳洲美利奴羊毛，双面呢工艺，手工缝制，版型宽松不挑身型。"
        "颜色有燕麦色、焦糖色和经典灰，今晚九点开抢，前一百名下单送同色系围巾。",
    ),
    "full-width and punctuation changed": (
        "秋冬新款羊毛双面呢大衣！！",
        "这款大衣采用澳洲美利奴羊毛 双面呢工艺 手工缝制 版型宽松不挑身材 "
        "颜色有燕麦色/焦糖色/经典黑 今晚８点开抢 前１００名下单送同色系围巾",
    ),
    "a sentence added": (
        "秋冬新款羊毛双面呢大衣",
        "这款大衣采用澳洲美利奴羊毛，双面呢工艺，手工缝制，版型宽松不挑身材。"
        "颜色有燕麦色、焦糖色和经典黑，今晚八点开抢，前一百名下单送同色系围巾。全场包邮。",
    ),
}

SAME_CATEGORY_DIFFERENT = {
    "another coat": (
        "新款羊毛大衣上市",
        "今年主推的长款羊毛大衣，落肩设计，内里加棉，零下十度也不怕。"
        "尺码从S到XL，身高一米五到一米七五都能穿，周末下单享九折。",
    ),
    "a knit sweater": (
        "秋冬针织毛衣推荐",
        "软糯的马海毛针织衫，慵懒风宽松版型，搭配大衣或者单穿都好看。"
        "颜色有奶白、雾霾蓝和焦糖色，今晚八点上新，前五十名送发夹。",
    ),
    "english note": (
        "Winter wool coat sale",
        "Double-faced merino wool coat, hand stitched, relaxed fit. "
        "Oatmeal, caramel and black. Sale starts at 8 pm tonight.",
    ),
}


def score(a: tuple[str, str], b: tuple[str, str]) -> float:
    fa, fb = fingerprint(*a), fingerprint(*b)
    assert fa is not None and fb is not None
    return similarity(fa.signature, fb.signature)


def shares_a_band(a: tuple[str, str], b: tuple[str, str]) -> bool:
    fa, fb = fingerprint(*a), fingerprint(*b)
    assert fa is not None and fb is not None
    return any(x == y for x, y in zip(fa.bands, fb.bands, strict=True))


@pytest.mark.parametrize("name", sorted(NEAR_COPIES))
def test_a_near_copy_is_caught_through_the_band_index(name):
    copy = NEAR_COPIES[name]
    assert score(ORIGINAL, copy) >= NEAR_COPY
    assert shares_a_band(ORIGINAL, copy)


@pytest.mark.parametrize("name", sorted(SAME_CATEGORY_DIFFERENT))
def test_a_different_note_of_the_same_category_is_not_a_copy(name):
    assert score(ORIGINAL, SAME_CATEGORY_DIFFERENT[name]) < NEAR_COPY


def test_an_exact_copy_scores_one():
    assert score(ORIGINAL, ORIGINAL) == 1.0


def test_normalisation_folds_width_case_punctuation_and_spaces():
    assert normalize("ＡＢＣ　ｄｅｆ！１２３，Hello World。") == "abcdef123helloworld"


def test_a_text_too_short_to_judge_has_no_fingerprint():
    assert fingerprint("上新了", "！！") is None
    assert len(fingerprint(*ORIGINAL).bands) == BANDS
