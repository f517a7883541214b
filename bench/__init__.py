"""Benchmarks; run them as scripts from the repo root, e.g. `python bench/approvals.py --help`."""
