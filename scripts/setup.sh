#!/usr/bin/env bash
# Sets up Aegis in this checkout: system packages (as root), Node 24 and
# the npm dependencies, the guest kernel (cached), the guest agent, its
# initramfs, the demo image and the router's TCP relay. Safe to run
# again; cached steps are quick.
#
# Usage: bash scripts/setup.sh [--test]   (--test adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-packages.sh "$@"
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
  touch node_modules
fi

out="$PWD/build/guest"
mkdir -p "$out"
bash guest/kernel/build.sh "$out/vmlinux"
make -s -C guest/agent OUT="$out"
make -s -C native/relay OUT="$PWD/build/native"
node_modules/.bin/node scripts/build-initrd.ts "$out/aegis-agent" \
  "$out/initrd.img"
bash guest/demo/build.sh "$out" >/dev/null
node_modules/.bin/node scripts/build-demo-image.ts "$out/demo-rootfs" \
  guest/demo/image.json "$out/demo.oci.tar"
echo "setup: guest artifacts are in build/guest"
