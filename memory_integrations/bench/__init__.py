"""Benchmarks behind ``memory-integrations bench``: functions that return figures."""
