"""Allocation plans, allowance calculation, pre-allocation, issuance and true-up (issue 4)."""
