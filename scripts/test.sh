#!/usr/bin/env bash
# Sets up what the tests need (quick once done), then runs the whole suite
# with the project's Node 24, or the test files given as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export PATH="$PWD/node_modules/.bin:$PATH"
node --test --test-concurrency="${AEGIS_TEST_CONCURRENCY:-1}" \
  --test-reporter=spec "${@:-test/**/*.test.ts}"
