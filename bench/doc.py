"""docs/benchmarks.md as the benches write it: each owns a section between its markers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(
    begin: str, end: str, section: str, place: Callable[[str, str], str] | None = None
) -> None:
    """Puts `section` (its markers included) where the text between `begin` and `end` was;
    where there are no markers yet, `place(text, section)` gives the new text (None: the
    markers must be there)."""
    text = DOC.read_text()
    if begin in text:
        head, _, rest = text.partition(begin)
        text = head + section + rest.partition(end)[2]
    elif place is not None:
        text = place(text, section)
    else:
        raise RuntimeError(f"{DOC.name} has no {begin} marker")
    DOC.write_text(text)
