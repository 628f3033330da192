"""Operators of the OFS provider."""
