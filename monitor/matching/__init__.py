"""The rule language: text normalization, rule files compiled into one automaton for every
rule, boolean evaluation and the explanation of a match.

Owns: what a term means and whether an item matches. Must not do I/O beyond reading
rule files (``rules.py``): no network, no database, no notifiers.
"""
