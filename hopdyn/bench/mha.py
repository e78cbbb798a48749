"""Benchmarks of hopdyn's mha room (filled by its issue)."""
