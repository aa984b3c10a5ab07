"""Three-tier review of MRV data: national screening, provincial technical review, municipal spot check."""
