"""Smoke test of the benchmarks."""
