#!/usr/bin/env bash
# Sets Aegis up (first run: about 6 minutes, mostly the guest kernel),
# then runs the demo image as an instance behind the router, serving its
# page on http://127.0.0.1:8080/ until Ctrl-C. Arguments go to
# `aegis demo` (for example --port 9090, or --exit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/node bin/aegis.ts demo "$@"
