#!/usr/bin/env bash
# Runs the whole test suite with the project's Node 24. Tests that boot
# VMs need the guest artifacts: run `bash scripts/setup.sh --test` first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
node --version
node --test --test-concurrency="${AEGIS_TEST_CONCURRENCY:-1}" \
  --test-reporter=spec "${@:-test/**/*.test.ts}"
