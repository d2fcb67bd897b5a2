"""Benchmarks: figures beside their limits (`make bench`); not imported by the product."""
