"""Reproducible benchmarks (`carbonmarket bench ...`); see bench/README.md for what each measures.

`ledger` measures registry transfers per second under concurrent clients beside pgbench's
TPC-B-like figure on the same PostgreSQL server; `report` holds the pure arithmetic and parsing
so it can be tested without a database; `scratch` makes and drops the throw-away databases;
`pgbench` drives PostgreSQL's own benchmark tool.
"""
