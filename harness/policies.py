"""Approval policies for tests: the rules most of them decide under, which each test file extends."""

from __future__ import annotations

# 2 distinct finance approvers from a total of 1000 on, any approver alone below it
LARGE_ORDERS_RULES = """
rules:
  - name: large orders
    when: {total_at_least: 1000}
    approvals: 2
    groups: [finance]
  - name: everything else
"""
