"""A check of painchain-gh in PainChain's real web UI (real backend, built frontend, headless Chromium).

Run on demand, never in CI: ``python -m tests.real_ui --painchain PATH`` (README.md beside this file).
Only ``checks`` (pure) is imported by the test suite.
"""
