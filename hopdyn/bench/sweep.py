"""Benchmarks of hopdyn's sweep room (filled by its issue)."""
