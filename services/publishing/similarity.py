"""Copied-content detection (PRODUCT.md rule 11): text normalisation, character
shingles, MinHash signatures and LSH bands. Pure functions, no I/O.

Chinese has no spaces, so a text is cut into overlapping 3-character shingles after
folding case, full-/half-width forms, punctuation and whitespace. Two texts' Jaccard
similarity over their shingles is estimated by the share of equal MinHash components;
the signature is cut into bands, and posts sharing any band are the only candidates a
new post is compared with (an index lookup, never a scan of all posts).
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

SHINGLE = 3
PERMUTATIONS = 128
BANDS = 32
ROWS = PERMUTATIONS // BANDS  # 4 rows a band: a pair at J=0.6 shares a band 98.8% of the time
# A near-copy shares at least this estimated Jaccard similarity of shingles. Measured on
# real pairs (tests/unit/test_similarity.py): copies with a few characters changed score
# 0.7 and more; different product notes of one shop category score below 0.2.
NEAR_COPY = 0.6
# Below this many normalised characters a text is too short to call a copy ("上新了!").
MIN_CHARS = 12
# Long bodies are compared on their first characters: enough to recognise a copy.
MAX_CHARS = 1000

_PRIME = (1 << 61) - 1
_rng = random.Random(20131125)  # fixed: signatures must match across processes and years
_PERMS = [(_rng.randrange(1, _PRIME), _rng.randrange(0, _PRIME)) for _ in range(PERMUTATIONS)]


def normalize(text: str) -> str:
    """Folds full-width to half-width (NFKC), case, and drops punctuation, symbols, spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")[:MAX_CHARS]


def shingles(normalized: str) -> set[str]:
    if len(normalized) <= SHINGLE:
        return {normalized} if normalized else set()
    return {normalized[i : i + SHINGLE] for i in range(len(normalized) - SHINGLE + 1)}


def _stable_hash(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def signature(normalized: str) -> list[int]:
    """The MinHash signature: PERMUTATIONS values, each below 2**61 (fits a bigint)."""
    base = [_stable_hash(s.encode()) % _PRIME for s in shingles(normalized)]
    if not base:
        return [0] * PERMUTATIONS
    return [min((a * h + b) % _PRIME for h in base) for a, b in _PERMS]


def bands(sig: Sequence[int]) -> list[int]:
    """One signed 64-bit hash per band of ROWS signature values (the LSH index keys)."""
    keys = []
    for band in range(BANDS):
        chunk = sig[band * ROWS : (band + 1) * ROWS]
        raw = b"".join(v.to_bytes(8, "big") for v in chunk)
        keys.append(_stable_hash(raw) - (1 << 63))
    return keys


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    return sum(1 for x, y in zip(a, b, strict=True) if x == y) / PERMUTATIONS


@dataclass(frozen=True)
class Fingerprint:
    signature: list[int]
    bands: list[int]


def fingerprint(title: str, body: str) -> Fingerprint | None:
    """The fingerprint of a post's text, or None when it is too short to judge."""
    text = normalize(f"{title}\n{body}")
    if len(text) < MIN_CHARS:
        return None
    sig = signature(text)
    return Fingerprint(sig, bands(sig))
