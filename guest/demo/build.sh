#!/usr/bin/env bash
# Builds the demo image from Debian's busybox-static: a root file system
# with a shell, core utilities and an HTTP server answering on port 7777.
# Nothing comes from the network.
#
# Usage: guest/demo/build.sh OUTPUT_DIR
# Writes OUTPUT_DIR/demo-rootfs/ (the tree), demo.ext4 and demo.json.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ] || LC_ALL=C readelf -l "$busybox" | grep -q INTERP; then
  echo "demo image: $busybox is not a static busybox;" \
    "install it with: apt-get install busybox-static" >&2
  exit 1
fi

root="$out/demo-rootfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,www,var/log}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
cp "$here/index.html" "$root/www/index.html"
cp "$here/passwd" "$root/etc/passwd"
cp "$here/group" "$root/etc/group"
echo aegis-demo > "$root/etc/hostname"

# Sized with room to spare; the file is sparse, so unused space costs
# nothing on the host.
truncate -s 64M "$out/demo.ext4.tmp"
mkfs.ext4 -q -F -E root_owner=0:0 -L aegis-demo -d "$root" \
  "$out/demo.ext4.tmp"
mv "$out/demo.ext4.tmp" "$out/demo.ext4"
cp "$here/image.json" "$out/demo.json"
echo "demo image: $out/demo.ext4"
