"""Tests of labelgate.client."""
