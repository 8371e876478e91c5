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

# What a daemon's JVM adds to map the daemons' AOT cache where it was dumped (JvmCommand.forDaemon says why)
DAEMON_AOT_MAPPING="-XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0"

# train_daemon_aot CACHE LAUNCHER_DIR JAVA CLASSPATH JVM_FLAG...
#   The AOT cache of the long-lived daemons (the shim daemon, and the pool daemon that maps it too; JvmCommand's
#   forDaemon): the shim daemon run by hand with -XX:AOTCacheOutput under a private containerd, which drives
#   containers through it as ctr does (LAUNCHER_DIR holds containerd-shim-a3s-box, whose `start` finds that
#   daemon alive), then stopped with SIGTERM, when the JVM writes the cache. Needs what the demo needs (root,
#   containerd, QEMU, the guest image); a failed training only costs the daemons memory (docs/performance.md).
train_daemon_aot() {
  local cache=$1 launcher_dir=$2 java=$3 classpath=$4
  shift 4
  local rc=0
  rm -f "$cache" "$cache.tmp"
  [ "$(id -u)" -eq 0 ] && command -v containerd >/dev/null && command -v ctr >/dev/null || return 1
  (
    source "$A3S_ROOT/scripts/lib/containerd.sh"
    a3s_state_start aot
    A3S_BOX_CONFIG="$A3S_BOX_STATE/config.toml"
    export A3S_BOX_CONFIG
    printf '[pool]\nsize = 1\nmax_vms = 4\n' > "$A3S_BOX_CONFIG"
    ctd_start "$launcher_dir"
    trap 'ctd_stop; a3s_state_stop' EXIT
    mkdir -p "$A3S_BOX_STATE/shim"
    MALLOC_ARENA_MAX=2 setsid "$java" "$@" -XX:AOTCacheOutput="$cache.tmp" -cp "$classpath" \
      io.a3s.box.shim.ShimMain -address "$CTD_SOCK" -ttrpc-address "$CTD_SOCK.ttrpc" serve \
      < /dev/null > "$A3S_BOX_STATE/daemon.log" 2>&1 &
    local daemon=$! i image=localhost/a3s/busybox:latest
    for i in $(seq 1 300); do ls "$A3S_BOX_STATE"/shim/*.sock >/dev/null 2>&1 && break; sleep 0.1; done
    "$A3S_ROOT/scripts/lib/busybox-image.sh" "$CTD_DIR/busybox.tar" "$image"
    ctd_ctr -n aot images import "$CTD_DIR/busybox.tar" > /dev/null
    # what containerd asks of a shim day to day: run with output and an exit code, a detached task with an
    # exec, ps, metrics, pause and resume, kill and delete, and stdin
    ctd_ctr -n aot run --rm --runtime io.a3s.box "$image" aot-1 sh -c 'echo out; echo err >&2; exit 3' \
      > /dev/null 2>&1 || true
    ctd_ctr -n aot run -d --runtime io.a3s.box "$image" aot-2 sleep 600 > /dev/null
    ctd_ctr -n aot task exec --exec-id e1 aot-2 ls / > /dev/null
    ctd_ctr -n aot task ps aot-2 > /dev/null
    ctd_ctr -n aot task metrics aot-2 > /dev/null
    ctd_ctr -n aot task pause aot-2 && ctd_ctr -n aot task resume aot-2
    ctd_ctr -n aot task kill -s SIGKILL aot-2
    for i in $(seq 1 100); do ctd_ctr -n aot task ls | grep -q 'aot-2.*STOPPED' && break; sleep 0.1; done
    ctd_ctr -n aot task delete aot-2 > /dev/null && ctd_ctr -n aot containers delete aot-2
    echo in | ctd_ctr -n aot run --rm --runtime io.a3s.box "$image" aot-3 cat > /dev/null
    # SIGTERM: the daemon stops, and its JVM assembles the cache (a child JVM) before it exits
    kill -TERM "$daemon"
    for i in $(seq 1 1200); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    [ -f "$cache.tmp" ]
  ) > /dev/null 2>&1 || rc=1
  # the cache must load (AOTMode=on refuses one that does not) with the flags the daemons add
  # shellcheck disable=SC2086 # DAEMON_AOT_MAPPING is a list of flags
  if [ $rc -eq 0 ] && "$java" "$@" $DAEMON_AOT_MAPPING \
      -XX:AOTMode=on -XX:AOTCache="$cache.tmp" -cp "$classpath" io.a3s.box.shim.ShimMain -v > /dev/null 2>&1; then
    mv -f "$cache.tmp" "$cache"
  else
    rm -f "$cache.tmp"
    return 1
  fi
}

# daemon_aot_case DAEMON_AOT: the lines of an sh launcher of a3s-box that give `pool start` (the pool daemon;
# systemd runs `pool start --foreground`) the daemons' AOT cache, as JvmCommand.forDaemon does, in AOT_FLAG
daemon_aot_case() {
  printf '# the pool daemon (`pool start`, `pool start --foreground`) maps the daemons'"'"' AOT cache\n'
  printf 'case "$1 $2" in "pool start") if [ -f %q ]; then AOT_FLAG="%s -XX:AOTCache=%s"; fi ;; esac\n' \
    "$1" "$DAEMON_AOT_MAPPING" "$1"
}

# native_pool_case NATIVE JVM_FLAG...: the line of an sh launcher of a3s-box that runs `pool start --foreground`
# (systemd's unit) from the daemons' native image NATIVE when it exists, with the options of JVM_FLAG a native
# image takes (the rule of JvmCommand.withNativeImage: system properties, heap and stack sizes), as the shim
# starts the pool daemon
native_pool_case() {
  local native=$1 f opts=()
  shift
  for f in "$@"; do
    case "$f" in -D* | -Xmx* | -Xms* | -Xmn* | -Xss*) opts+=("$f") ;; esac
  done
  printf '# the pool daemon in the foreground runs the daemons'"'"' native image, as when the shim starts it\n'
  printf 'case "$1 $2 $3" in "pool start --foreground") if [ -x %q ]; then exec %q' "$native" "$native"
  printf ' %q' "${opts[@]}"
  printf ' io.a3s.box.shim.cli.A3sBox "$@"; fi ;; esac\n'
}
