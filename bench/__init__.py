"""Benchmarks: each prints a table and writes bench/results/<name>.json. Figures, not pass/fail."""
