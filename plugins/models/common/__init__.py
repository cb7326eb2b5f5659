"""Helpers shared by the built-in model plugins (training loops, input matrices)."""
