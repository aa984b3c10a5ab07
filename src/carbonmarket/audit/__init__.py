"""The hash-chained audit log: every state change, in order, tamper-evident (rule 11)."""
