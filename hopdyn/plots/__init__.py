"""Drawing functions: each takes the data an analysis returned and draws it (no science here)."""
