# shellcheck shell=bash
# A private containerd for the demo and the benchmarks: its own root, state, sockets and config under
# $CTD_DIR, so it never touches a system containerd. Source after common.sh.
#   ctd_start [EXTRA_PATH]   start it (EXTRA_PATH is prepended to its PATH, where it finds shims;
#                            CTD_LOG_LEVEL=debug makes containerd start its shims with -debug)
#   ctd_ctr ARGS...          run ctr against it
#   ctd_stop                 stop it, unmount what it left, remove $CTD_DIR (also runs on EXIT)

ctd_start() {
  local extra_path="${1:-}"
  mkdir -p /run/a3s-demo
  CTD_DIR="$(mktemp -d /run/a3s-demo/ctd.XXXXXX)"
  export CTD_DIR
  CTD_SOCK="$CTD_DIR/c.sock"
  export CTD_SOCK
  cat > "$CTD_DIR/config.toml" <<TOML
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD_DIR/c.sock"
[ttrpc]
  address = "$CTD_DIR/c.sock.ttrpc"
[debug]
  address = "$CTD_DIR/debug.sock"
  level = "${CTD_LOG_LEVEL:-info}"
TOML
  PATH="${extra_path:+$extra_path:}$PATH" containerd --config "$CTD_DIR/config.toml" \
    >"$CTD_DIR/containerd.log" 2>&1 &
  CTD_PID=$!
  trap ctd_stop EXIT
  local i
  for i in $(seq 1 300); do
    if [ -S "$CTD_SOCK" ] && ctr --address "$CTD_SOCK" version >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$CTD_PID" 2>/dev/null || { cat "$CTD_DIR/containerd.log" >&2; die "containerd exited"; }
    sleep 0.1
  done
  cat "$CTD_DIR/containerd.log" >&2
  die "containerd did not start within 30 s"
}

ctd_ctr() {
  ctr --address "$CTD_SOCK" "$@"
}

ctd_stop() {
  [ -n "${CTD_DIR:-}" ] || return 0
  if [ -n "${CTD_PID:-}" ] && kill -0 "$CTD_PID" 2>/dev/null; then
    kill "$CTD_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CTD_PID" 2>/dev/null || true
  fi
  # deepest mounts first
  unmount_under "$CTD_DIR"
  rm -rf --one-file-system "$CTD_DIR"
  CTD_DIR=""
}

# unmount_under DIR: lazily unmounts everything below DIR, deepest first
unmount_under() {
  { grep -o " $1/[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}

# a3s_state_start: a private a3s-box state root ($A3S_BOX_STATE) for this script's shim daemon and VMs
a3s_state_start() {
  A3S_BOX_STATE="$(mktemp -d "/run/a3s-$1-state.XXXXXX")"
  export A3S_BOX_STATE
}

# a3s_state_stop [LOG]: stops the daemons of $A3S_BOX_STATE (they destroy their VMs), then removes it; with
# LOG, first keeps their logs there (each headed by its file's name), for a run to be read after the fact
a3s_state_stop() {
  [ -n "${A3S_BOX_STATE:-}" ] && [ -d "$A3S_BOX_STATE" ] || return 0
  local pidfile pid f
  for pidfile in "$A3S_BOX_STATE"/shim/*.pid "$A3S_BOX_STATE"/pool.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ -n "${1:-}" ]; then
    : >"$1"
    for f in "$A3S_BOX_STATE"/shim/*.log "$A3S_BOX_STATE"/pool.log; do
      [ -f "$f" ] && { printf '==> %s\n' "${f#"$A3S_BOX_STATE"/}"; cat "$f"; } >>"$1"
    done
  fi
  unmount_under "$A3S_BOX_STATE"
  rm -rf --one-file-system "$A3S_BOX_STATE"
}
