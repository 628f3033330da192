"""Benchmarks of the OFS provider: triggerer cost per status poll, sync path, import cost, scale curve.

Entry point: ``python bench/run.py`` (``make bench``). See ``bench/RESULTS.md``.
"""
