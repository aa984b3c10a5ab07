"""Shared vocabulary of every context: units, instruments, ids, clock, calendar, result codes."""
