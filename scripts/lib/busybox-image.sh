#!/usr/bin/env bash
# Builds a busybox OCI image layout tarball from Debian's busybox-static (no registry is reachable here),
# reproducibly: fixed file order, owners and times, so the same busybox gives the same digests.
#
#   busybox-image.sh OUT.tar NAME [USER [CMD]]
#
# NAME is the image reference stored in the tarball (io.containerd.image.name); import it with
# `ctr images import OUT.tar`. USER sets the image config's User (default, or empty: root). CMD sets its Cmd,
# as a JSON array (default: ["sh"]); e.g. '["sleep","2147483647"]' makes a pod's pause image.
# BUSYBOX_ETC=DIR takes the image's /etc/passwd and /etc/group from DIR instead of the defaults below.
# BUSYBOX_EXTRA="PATH..." adds host files and directories at the same paths, with the libraries they load.
set -euo pipefail
out=${1:?usage: busybox-image.sh OUT.tar NAME [USER [CMD]]}
name=${2:?usage: busybox-image.sh OUT.tar NAME [USER [CMD]]}
user=${3:-}
cmd=${4:-'["sh"]'}
[ -x /bin/busybox ] || { echo "busybox-image.sh: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
rootfs="$dir/rootfs" layout="$dir/layout"
# the mount points of every container (as most images have them), so that a read-only rootfs needs no mkdir
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root" "$rootfs/home/app" "$rootfs/dev" "$rootfs/proc" "$rootfs/run" \
  "$rootfs/sys" "$layout/blobs/sha256"
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
if [ -n "${BUSYBOX_ETC:-}" ]; then
  cp "$BUSYBOX_ETC/passwd" "$BUSYBOX_ETC/group" "$rootfs/etc/"
fi
# BUSYBOX_EXTRA: host files and directories put into the image at the same paths, with the shared libraries
# their ELF files load (for tests that need a host tool in a container: iptables and its extensions)
for p in ${BUSYBOX_EXTRA:-}; do
  [ -e "$p" ] || { echo "busybox-image.sh: $p (BUSYBOX_EXTRA) does not exist" >&2; exit 1; }
  cp -rL --parents "$p" "$rootfs"
  # (a static binary names no library: grep finds nothing, which is not a failure)
  find -L "$p" -type f -exec ldd {} \; 2>/dev/null | { grep -o '/[^ ]*' || true; } | sort -u | while read -r lib; do
    [ -e "$rootfs$lib" ] || cp -L --parents "$lib" "$rootfs"
  done
done

tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$dir/layer.tar" .
blob() { # blob FILE -> "digest size", FILE stored as a blob
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$layout/blobs/sha256/$d"
  echo "$d $s"
}
layer_diff=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
read -r layer_digest layer_size < <(blob "$dir/layer.tar")
printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$user" "$cmd" "$layer_diff" >"$dir/config.json"
read -r config_digest config_size < <(blob "$dir/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$dir/manifest.json"
read -r manifest_digest manifest_size < <(blob "$dir/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest_digest" "$manifest_size" "$name" >"$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
tar -C "$layout" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out" .
