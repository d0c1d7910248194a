"""Reusable loopback fault servers for reliability tests (see faultsrv.py)."""
