"""Who is acting: users, roles, per-account rights, passwords, tokens."""
