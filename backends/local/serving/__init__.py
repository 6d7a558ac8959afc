"""Serving trained models: lifecycle, inference units, runtimes (see runtime.py)."""
