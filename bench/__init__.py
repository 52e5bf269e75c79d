"""Benchmarks that print tables (not timed tests): ``rnnscope bench NAME`` (installed as ``rnnscope.bench``)."""
