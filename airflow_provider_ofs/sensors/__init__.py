"""Sensors of the OFS provider."""
