"""python -m bench.approvals: what one approval costs (docs/performance.md)."""
