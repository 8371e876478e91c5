# shellcheck shell=bash
# Writes the containerd-shim-a3s-box launcher (from containerd-shim-a3s-box.in beside this file). Sourced by
# scripts/setup and scripts/install, after lib/common.sh.

# render_shim_launcher OUT JAVA CLASSPATH AOT_CACHE JVM_FLAG...
#   Replaces OUT only when its content changes (an exec'ing containerd never sees half a file).
render_shim_launcher() {
  local out=$1 java=$2 classpath=$3 aot=$4
  shift 4
  local flags='' f text
  for f in "$@"; do flags+="${flags:+ }$(printf '%q' "$f")"; done
  text="$(cat "$A3S_ROOT/scripts/lib/containerd-shim-a3s-box.in")"
  text=${text//@JAVA@/"$(printf '%q' "$java")"}
  text=${text//@CLASSPATH@/"$(printf '%q' "$classpath")"}
  text=${text//@AOT_CACHE@/"$(printf '%q' "$aot")"}
  text=${text//@JVM_FLAGS@/"$flags"}
  local tmp
  tmp="$(dirname "$out")/.$(basename "$out").tmp"
  printf '%s\n' "$text" > "$tmp"
  chmod 755 "$tmp"
  if ! cmp -s "$tmp" "$out"; then mv -f "$tmp" "$out"; else rm -f "$tmp"; fi
}

# train_shim_aot CACHE JAVA CLASSPATH JVM_FLAG...
#   One representative run of the shim's Java path, recorded into an AOT cache (JDK 25, JEP 483/514): a
#   "start" that spawns the real daemon in a private state tree (no warm pool: [pool] size = 0) and waits for
#   it to answer; a "delete" alone if that fails. The daemon is then stopped like any other (SIGTERM) and
#   whatever it left is removed. A failed training only costs start-up time.
train_shim_aot() {
  local cache=$1 java=$2 classpath=$3
  shift 3
  local tmp rc=0
  tmp="$(mktemp -d /tmp/a3s-aot.XXXXXX)"
  mkdir -p "$tmp/bundle"
  printf '[pool]\nsize = 0\n' > "$tmp/config.toml"
  local args=(-namespace aot -address "$tmp/containerd.sock" -publish-binary /bin/true -id train)
  if ! (cd "$tmp/bundle" && A3S_BOX_STATE="$tmp/state" A3S_BOX_CONFIG="$tmp/config.toml" \
        TTRPC_ADDRESS="$tmp/containerd.sock.ttrpc" \
        "$java" "$@" -XX:AOTCacheOutput="$cache" -cp "$classpath" io.a3s.box.shim.ShimMain "${args[@]}" start \
        < /dev/null > /dev/null 2>&1); then
    rm -f "$cache"
    (cd "$tmp/bundle" && A3S_BOX_STATE="$tmp/state" A3S_BOX_CONFIG="$tmp/config.toml" \
        "$java" "$@" -XX:AOTCacheOutput="$cache" -cp "$classpath" io.a3s.box.shim.ShimMain "${args[@]}" \
        -bundle "$tmp/bundle" delete < /dev/null > /dev/null 2>&1) || rc=1
  fi
  stop_training_daemon "$tmp"
  rm -rf "$tmp"
  return $rc
}

# stop_training_daemon DIR: the daemon a training start spawned under DIR/state, and every VM it booted.
stop_training_daemon() {
  local dir=$1 pid f i mp
  for f in "$dir"/state/shim/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kill -TERM "$pid" 2>/dev/null || continue
    for i in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # every process still running from DIR (a VMM the daemon booted for its pool, whatever its layout)
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [ "$pid" != $$ ] && tr '\0' ' ' 2>/dev/null < "$f" | grep -qF "$dir/" && kill -KILL "$pid" 2>/dev/null || true
  done
  # nothing of a VM directory may stay mounted when DIR is removed
  awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r mp; do
    umount -l "$mp" 2>/dev/null || true
  done
}
