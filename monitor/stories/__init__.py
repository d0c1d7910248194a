"""Stories: copies of one report across feeds and outlets, grouped into one story.

Owns: grouping, sources and corroboration (pure), decided here and executed by the
store. Must not: fetch, send, or run SQL of its own.
"""
