"""Benchmarks that print tables (not timed tests); each runnable as ``python bench/NAME.py``."""
