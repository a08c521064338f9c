"""Registered corpus readers for the benchmark formats."""
