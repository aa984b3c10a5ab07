"""The simulator: a seeded synthetic national market run for a whole compliance year through the real
platform (MRV, allocation, CCER, exchange, compliance), and the policy what-ifs (issue 7).

Ownership of the files and the interfaces between the stages: `docs/simulation-contract.md`.
"""
