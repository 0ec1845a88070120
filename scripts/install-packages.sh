#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Aegis needs: QEMU and disk tools to
# run guests, the kernel source and a C toolchain to build the guest, and
# (with --test) what the test suite and benchmarks start: an OCI registry,
# an OCI client, a load generator and a reference proxy.
set -euo pipefail

runtime=(qemu-system-x86 qemu-utils e2fsprogs busybox-static)
build=(build-essential musl-tools flex bison bc libelf-dev libssl-dev
  xz-utils)
testing=(docker-registry skopeo umoci apache2-utils zstd wrk nginx curl)

wanted=("${runtime[@]}" "${build[@]}")
[ "${1:-}" = --test ] && wanted+=("${testing[@]}")

kernel_source() {
  # Debian 12 ships the 6.1 kernel source; elsewhere take the newest.
  if apt-cache show linux-source-6.1 >/dev/null 2>&1; then
    echo linux-source-6.1
  else
    echo linux-source
  fi
}

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null |
    grep -q 'install ok installed' || missing+=("$package")
done
ls /usr/src/linux-source-*.tar.xz >/dev/null 2>&1 || missing+=(SOURCE)

[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "install them as root: sudo bash $0 ${1:-}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
resolved=()
for package in "${missing[@]}"; do
  if [ "$package" = SOURCE ]; then
    resolved+=("$(kernel_source)")
  else
    resolved+=("$package")
  fi
done
echo "installing: ${resolved[*]}"
apt-get install -y -q --no-install-recommends "${resolved[@]}"
