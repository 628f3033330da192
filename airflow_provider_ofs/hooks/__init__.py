"""Hooks of the OFS provider."""
