#!/usr/bin/env bash
# Builds the guest kernel from the distribution's own kernel source package
# with the options in aegis.config, and caches it by content: the source
# version, the options and this script. A second run is instant.
#
# Usage: guest/kernel/build.sh OUTPUT_VMLINUX
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
output=${1:?usage: build.sh OUTPUT_VMLINUX}
cache=${AEGIS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aegis}
# Steps (compile, assemble, link lines) of a full build, for the progress
# display; an estimate, measured on Debian 12's linux-source-6.1.
expected_steps=1320

tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
if [ -z "$tarball" ]; then
  echo "guest kernel: no /usr/src/linux-source-*.tar.xz;" \
    "install it with: apt-get install linux-source-6.1" >&2
  exit 1
fi
package=$(basename "$tarball" .tar.xz)
version=$(dpkg-query -W -f '${Version}' "$package" 2>/dev/null ||
  stat -c '%s-%Y' "$tarball")
key=$({
  echo "$package $version"
  cat "$here/aegis.config" "$here/build.sh"
} | sha256sum | cut -c1-16)
cached="$cache/kernel/$key"

install_output() {
  mkdir -p "$(dirname "$output")"
  cp "$cached/vmlinux" "$output.tmp" && mv "$output.tmp" "$output"
}

if [ -f "$cached/vmlinux" ]; then
  echo "guest kernel: cached ($package $version, $key)"
  install_output
  exit 0
fi

mkdir -p "$cache/kernel"
work=$(mktemp -d "$cache/kernel/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
echo "guest kernel: building from $package $version (about 5 minutes)"
tar -xf "$tarball" -C "$work" --strip-components=1

make -C "$work" -s allnoconfig KCONFIG_ALLCONFIG="$here/aegis.config"
missing=0
while read -r option; do
  if ! grep -qx "$option" "$work/.config"; then
    echo "guest kernel: option $option did not survive Kconfig" >&2
    missing=1
  fi
done < <(grep -E '^CONFIG_' "$here/aegis.config")
[ "$missing" -eq 0 ] || exit 1

progress() {
  local steps=0 percent last=-1
  while IFS= read -r line; do
    case "$line" in
      *" CC "* | *" AS "* | *" AR "* | *" LD "*) steps=$((steps + 1)) ;;
      *) continue ;;
    esac
    percent=$((steps * 100 / expected_steps))
    [ "$percent" -gt 99 ] && percent=99
    if [ -t 1 ]; then
      printf '\rguest kernel: %3d%% (%d steps)' "$percent" "$steps"
    elif [ $((percent / 10)) -ne "$last" ]; then
      last=$((percent / 10))
      echo "guest kernel: ${percent}% (${steps} steps)"
    fi
  done
  [ -t 1 ] && printf '\n'
  return 0
}

log="$work/build.log"
if ! make -C "$work" -j"$(nproc)" vmlinux 2>&1 | tee "$log" | progress; then
  :
fi
if [ ! -f "$work/vmlinux" ] || grep -q 'Error [0-9]' "$log"; then
  tail -n 30 "$log" >&2
  echo "guest kernel: build failed" >&2
  exit 1
fi

mkdir -p "$cached.tmp"
cp "$work/vmlinux" "$work/.config" "$cached.tmp/"
rm -rf "$cached" && mv "$cached.tmp" "$cached"
echo "guest kernel: built in $(($(date +%s) - started)) s ($key)"
install_output
