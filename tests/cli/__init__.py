"""Tests of the labelgate command line."""
