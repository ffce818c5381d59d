"""Seams: where chaoskit meets the application (in-process HTTP today)."""
