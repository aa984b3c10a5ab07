#!/usr/bin/env bash
# The ledger benchmark on PostgreSQL with 1, 2, 4 and 8 clients, then on SQLite (one writer).
# Prints one JSON line per run (the last line of `carbonmarket bench ledger --json`).
#
# Settings (environment):
#   CARBONMARKET_BENCH_PG  server URL; the benchmark creates and drops scratch databases there
#                          (default postgresql://postgres@127.0.0.1:5432/postgres)
#   BENCH_CLIENTS          client counts for PostgreSQL (default "1 2 4 8")
#   BENCH_SECONDS          timed seconds per run, ours and pgbench's each (default 10)
#   BENCH_ACCOUNTS         accounts in the scratch registry (default 1000)
set -euo pipefail

pg_url="${CARBONMARKET_BENCH_PG:-postgresql://postgres@127.0.0.1:5432/postgres}"
clients_list="${BENCH_CLIENTS:-1 2 4 8}"
seconds="${BENCH_SECONDS:-10}"
accounts="${BENCH_ACCOUNTS:-1000}"

sqlite_dir="$(mktemp -d)"
trap 'rm -rf "$sqlite_dir"' EXIT

for clients in $clients_list; do
  carbonmarket bench ledger --db "$pg_url" --clients "$clients" --seconds "$seconds" \
    --accounts "$accounts" --json | tail -n 1
done

# The given SQLite file is never touched: the benchmark works on a scratch file beside it.
carbonmarket bench ledger --db "sqlite:///$sqlite_dir/bench.db" --clients 1 --seconds "$seconds" \
  --accounts "$accounts" --json | tail -n 1
