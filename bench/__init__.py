"""Benchmarks of feedqueue against the naive in-request baseline (``python -m bench.run``)."""
