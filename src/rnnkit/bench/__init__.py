"""Benchmarks for rnnkit (``rnnkit bench ...``)."""
