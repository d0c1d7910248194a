"""Stories: the copies of one report across outlets (pure; the store keeps the index).

``normalize`` makes titles and leads comparable, ``signature`` turns them into indexed
band keys and verifies candidates, ``outlets`` names the source of an item. The grouping
itself (look up candidates by band key, join the nearest verified one or start a story)
runs inside the poll's transaction in ``monitor/store/stories.py``.
"""

from __future__ import annotations

from monitor.models import Item, StoryPrint
from monitor.stories.outlets import domain_of, outlet_of
from monitor.stories.signature import THRESHOLD, fingerprint, similarity


def story_print(item: Item, link_key: str | None, feed_outlet: str | None, feed: str) -> StoryPrint:
    """Everything grouping needs of one item: cleaned text, band keys and outlet."""
    outlet = outlet_of(item.source, feed_outlet, item.link, feed)
    return fingerprint(item.title, item.summary or item.content, link_key, outlet)


__all__ = [
    "THRESHOLD",
    "domain_of",
    "fingerprint",
    "outlet_of",
    "similarity",
    "story_print",
]
