"""Triggers of the OFS provider."""
