#!/usr/bin/env bash
# Sets Aegis up (first run: about 6 minutes, mostly the guest kernel),
# then boots the demo image and serves its page on http://127.0.0.1:8080/.
# Arguments go to `aegis demo` (for example --port 9090, or --exit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node_modules/.bin/node bin/aegis.ts demo "$@"
