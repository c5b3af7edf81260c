#!/usr/bin/env bash
# Makes the local image localhost/solti-busybox:latest from Debian's
# busybox-static with `podman import` (no registry is needed or reachable).
# Idempotent: does nothing when the image exists.
set -euo pipefail
image=localhost/solti-busybox:latest
podman image exists "$image" && exit 0
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox-image: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
tar -C "$root" -cf "$root.tar" .
podman import --quiet --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' "$root.tar" "$image" >/dev/null
rm -f "$root.tar"
echo "busybox-image: made $image" >&2
