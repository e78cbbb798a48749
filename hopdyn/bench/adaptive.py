"""Benchmarks of hopdyn's adaptive room (filled by its issue)."""
