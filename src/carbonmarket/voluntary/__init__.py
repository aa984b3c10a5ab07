"""The voluntary market: CCER methodologies, projects, VVBs, issuance, cancellation (issue 6)."""
