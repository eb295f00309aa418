"""Benchmarks of painchain-gh against the original connector's strategy (not part of the test suite).

Run ``python -m benchmarks.run --help`` from the repository root; see ``benchmarks/README.md``.
"""
