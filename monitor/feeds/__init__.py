"""Getting feeds: fetch (httpx, limits, redirect guard), parse (feedparser, JSON Feed,
worker pool), item identity keys, OPML import.

Owns: every byte that comes from a feed until it is a list of clean ``Item``s, and the
identity policy (which keys make an item "already seen"). Must not: touch the database,
match rules or send anything. ``identity``, ``parse`` and ``jsonfeed`` do no I/O.
"""
