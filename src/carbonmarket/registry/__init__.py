"""The National Carbon Emission Registration System: holders, accounts, issuance, transfers, holds."""
