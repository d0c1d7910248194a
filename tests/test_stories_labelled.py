"""Story grouping measured on the labelled set (tests/data/stories/README.md): pairwise
precision over every pair, recall on copies of one report (the target) and on different
outlets' articles about one event (reported, a bonus)."""

from __future__ import annotations

from tests.stories_eval import group, load, score


def test_grouping_precision_and_recall_on_the_labelled_set() -> None:
    rows = load()
    assert len(rows) >= 300
    s = score(rows, group(rows))
    assert s.true_pairs >= 150
    print(
        f"\nstories: {len(rows)} items, {s.true_pairs} same-story pairs "
        f"({s.copy_pairs} copies, {s.event_pairs} same-event); "
        f"precision {s.precision:.3f}, recall on copies {s.copy_recall:.3f}, "
        f"recall on same-event articles {s.event_recall:.3f}"
    )
    for a, b in s.false_merges[:10]:
        print(f"  false merge: {a!r} / {b!r}")
    for a, b in s.missed_copies[:10]:
        print(f"  missed copy: {a!r} / {b!r}")
    assert s.precision >= 0.97
    assert s.copy_recall >= 0.85
