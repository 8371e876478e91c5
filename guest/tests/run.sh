#!/usr/bin/env bash
# Black-box tests of the guest agent without a VM: the real static binary runs as PID 1 of a new pid
# namespace (unshare --pid --fork --mount-proc) in test mode (--listen SOCKET), and agentctl drives it.
# Needs root (namespaces, mounts, cgroups). Prints one PASS/FAIL line per test and ends with
# "N passed, M failed"; exits non-zero when something failed.
#
#   tests/run.sh [AGENT [AGENTCTL]]        (make -C guest test builds both and runs this)
#   TESTS="hello exit_table" tests/run.sh  runs only the named tests
#   A3S_TEST_SOCK=SOCK A3S_TEST_HOST_SHARE=DIR tests/run.sh
#       runs the same tests against an agent that is already up, e.g. in a booted VM: SOCK is the host end
#       of its virtio-serial port, DIR the host directory exported as the 9p share `a3s.share`, which the
#       guest sees at A3S_TEST_GUEST_SHARE (default /run/a3s/share).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
AGENT=$(realpath "${1:-$HERE/../build/a3s-agent}")
CTL_BIN=$(realpath "${2:-$HERE/../build/agentctl}")

if [ "$(id -u)" != 0 ]; then
    echo "tests/run.sh: needs root (namespaces, mounts, cgroups)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
BUSYBOX=${BUSYBOX:-/bin/busybox}
if [ ! -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "tests/run.sh: a static busybox is needed at $BUSYBOX (apt-get install busybox-static)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

WORK=$(mktemp -d /tmp/a3s-agent-test.XXXXXX)
VM=0
if [ -n "${A3S_TEST_SOCK:-}" ]; then
    VM=1
    SOCK=$A3S_TEST_SOCK
    SHARE=${A3S_TEST_HOST_SHARE:?A3S_TEST_HOST_SHARE is needed with A3S_TEST_SOCK}/a3s-test-$$
    GSHARE=${A3S_TEST_GUEST_SHARE:-/run/a3s/share}/a3s-test-$$
else
    SOCK=$WORK/agent.sock
    SHARE=$WORK/share
    GSHARE=$SHARE
fi
LOG=$WORK/agent.log
CGPARENT=a3s-test-$$
AGENT_PID=
UNSHARE_PID=

cleanup() {
    if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AGENT_PID" 2>/dev/null
    fi
    [ -n "$UNSHARE_PID" ] && wait "$UNSHARE_PID" 2>/dev/null
    for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        [ -d "$root/$CGPARENT" ] && { find "$root/$CGPARENT" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null; rmdir "$root/$CGPARENT" 2>/dev/null; }
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; [ "$VM" = 1 ] && rm -rf "$SHARE"; fi
}
trap cleanup EXIT

# --- a busybox rootfs under the share, as the host would lay it out ---
make_rootfs() {
    local r=$1
    mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/home/user"
    cp "$BUSYBOX" "$r/bin/busybox"
    for c in $("$BUSYBOX" --list); do [ -e "$r/bin/$c" ] || ln -s busybox "$r/bin/$c"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' > "$r/etc/passwd"
    printf 'root:x:0:\nuser:x:1000:\n' > "$r/etc/group"
    chown 1000:1000 "$r/home/user"
}
HROOTFS=$SHARE/c/rootfs   # where the host writes it
ROOTFS=$GSHARE/c/rootfs    # what the agent is told
make_rootfs "$HROOTFS"

if [ "$VM" = 0 ]; then
    unshare --pid --fork --mount-proc "$AGENT" --listen "$SOCK" --share "$SHARE" --cgroup-parent "$CGPARENT" \
        ${AGENT_DEBUG:+-v} >"$LOG" 2>&1 &
    UNSHARE_PID=$!
    for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
    AGENT_PID=$(pgrep -P "$UNSHARE_PID" | head -1)
else
    echo "(agent in a VM: no log here)" >"$LOG"
fi

ctl() { timeout "${CTL_TIMEOUT:-30}" "$CTL_BIN" "$SOCK" "$@"; }
run() { ctl run --rootfs "$ROOTFS" "$@"; }
now_ms() { date +%s%3N; }
fds() { ls "/proc/$AGENT_PID/fd" 2>/dev/null | wc -l; }

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
fail() { echo "    $*"; return 1; }
expect_eq() { [ "$1" = "$2" ] || fail "expected [$2], got [$1]${3:+ ($3)}"; }

# --- tests: each is a function t_<name>; 0 passes, 2 skips, anything else fails ---

t_hello() {
    local out; out=$(ctl hello) || return 1
    echo "$out" | grep -q 'protocol_version=1 ' || fail "bad hello: $out"
}

t_echo_and_exit_code() {
    local out rc
    out=$(run -- sh -c 'echo hi; exit 7'); rc=$?
    expect_eq "$out" hi && expect_eq "$rc" 7
}

t_stderr_separate() {
    local out err
    out=$(run -- sh -c 'echo out; echo err >&2' 2>"$WORK/err")
    err=$(cat "$WORK/err")
    expect_eq "$out" out && expect_eq "$err" err
}

# One container, 256 execs: the agent must report every exit code exactly.
t_exit_table() {
    ctl create --id table --rootfs "$ROOTFS" -- sleep 1000 >/dev/null || return 1
    ctl start --id table || return 1
    local i rc bad=0
    for i in $(seq 0 255); do
        ctl exec --id table --exec-id "e$i" -- sh -c "exit $i"; rc=$?
        [ "$rc" = "$i" ] || { echo "    exit $i reported as $rc"; bad=1; }
    done
    # finished execs are remembered up to a bound (128): the oldest are forgotten, the newest kept
    ctl wait --id table --exec-id e255 >/dev/null; rc=$?
    expect_eq "$rc" 255 "wait on a finished exec" || bad=1
    ctl wait --id table --exec-id e0 >/dev/null 2>"$WORK/err"; rc=$?
    [ "$rc" = 125 ] && grep -q 'code 5' "$WORK/err" || { echo "    e0 should be forgotten: $rc $(cat "$WORK/err")"; bad=1; }
    ctl destroy --id table || bad=1
    return $bad
}

# 128+n for a process killed by signal n. An exec, not the container's init: pid 1 of a pid namespace
# ignores signals it has no handler for.
t_signal_exit_codes() {
    ctl create --id sigx --rootfs "$ROOTFS" -- sleep 1000 >/dev/null && ctl start --id sigx || return 1
    local rc bad=0 sig
    for sig in TERM:143 KILL:137 SEGV:139 USR1:138 HUP:129; do
        ctl exec --id sigx -- sh -c "kill -${sig%%:*} \$\$"; rc=$?
        expect_eq "$rc" "${sig##*:}" "SIG${sig%%:*}" || bad=1
    done
    ctl destroy --id sigx
    return $bad
}

t_signal_process() {
    ctl create --id sig --rootfs "$ROOTFS" -- sleep 1000 >/dev/null || return 1
    ctl start --id sig || return 1
    ctl kill --id sig --signal 9 || return 1
    local rc; ctl wait --id sig >/dev/null; rc=$?
    expect_eq "$rc" 137 || return 1
    ctl kill --id sig --signal 9 2>"$WORK/err"; rc=$?
    expect_eq "$rc" 3 "kill after exit must be NOT_FOUND" || return 1
    grep -q 'already finished' "$WORK/err" || fail "$(cat "$WORK/err")"
    ctl destroy --id sig
}

t_kill_all() {
    ctl create --id killall --rootfs "$ROOTFS" -- sh -c 'sleep 1000 & sleep 1000 & wait' >/dev/null || return 1
    ctl start --id killall || return 1
    sleep 0.3
    local n; n=$(ctl pids --id killall | wc -l)
    [ "$n" -ge 3 ] || fail "expected 3 pids, got $n" || return 1
    ctl kill --id killall --all --signal 9 || return 1
    local rc; ctl wait --id killall >/dev/null; rc=$?
    expect_eq "$rc" 137 && ctl destroy --id killall
}

t_missing_binary() {
    local t0 rc t1
    t0=$(now_ms)
    run -- /no/such/binary 2>"$WORK/err"; rc=$?
    t1=$(now_ms)
    expect_eq "$rc" 127 || return 1
    grep -q 'errno 2, op execve' "$WORK/err" || fail "start error: $(cat "$WORK/err")" || return 1
    [ $((t1 - t0)) -lt 3000 ] || fail "took $((t1 - t0)) ms" || return 1
    run -- nosuchcommand 2>"$WORK/err"; rc=$?
    expect_eq "$rc" 127 && grep -q 'not found in \$PATH' "$WORK/err" || fail "$(cat "$WORK/err")"
}

t_not_executable() {
    printf 'not a program\n' > "$HROOTFS/notexec"; chmod 644 "$HROOTFS/notexec"
    local rc; run -- /notexec 2>"$WORK/err"; rc=$?
    rm -f "$HROOTFS/notexec"
    expect_eq "$rc" 126 && grep -q 'errno 13' "$WORK/err" || fail "$(cat "$WORK/err")"
}

t_concurrent_execs() {
    ctl create --id conc --rootfs "$ROOTFS" -- sleep 1000 >/dev/null && ctl start --id conc || return 1
    local t0 t1 out
    t0=$(now_ms)
    out=$(ctl exec --id conc -n 8 -- sh -c 'sleep 1; echo done-$A3S_EXEC_INDEX') || return 1
    t1=$(now_ms)
    ctl destroy --id conc
    expect_eq "$(echo "$out" | sort | tr '\n' ' ')" "done-0 done-1 done-2 done-3 done-4 done-5 done-6 done-7 " || return 1
    [ $((t1 - t0)) -lt 4000 ] || fail "8 x sleep 1 took $((t1 - t0)) ms: not concurrent"
}

t_bulk_output() {
    dd if=/dev/urandom of="$HROOTFS/data.bin" bs=1M count=50 status=none
    local want got
    want=$(sha256sum < "$HROOTFS/data.bin" | cut -d' ' -f1)
    got=$(run -- cat /data.bin | sha256sum | cut -d' ' -f1)
    rm -f "$HROOTFS/data.bin"
    expect_eq "$got" "$want"
}

t_output_after_exit() {
    ctl create --id late --rootfs "$ROOTFS" -- sh -c 'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; echo bye >&2' >/dev/null || return 1
    ctl start --id late || return 1
    local rc; ctl wait --id late >/dev/null; rc=$?
    expect_eq "$rc" 0 || return 1
    ctl output --id late >"$WORK/out" 2>"$WORK/err" || return 1
    ctl destroy --id late
    expect_eq "$(wc -l < "$WORK/out")" 2000 && expect_eq "$(tail -1 "$WORK/out")" line-1999 && expect_eq "$(cat "$WORK/err")" bye
}

t_stdin_eof() {
    local out
    out=$(printf 'abc\ndef\n' | run --stdin -- cat) || return 1
    expect_eq "$out" "$(printf 'abc\ndef')" || return 1
    out=$(head -c 300000 /dev/zero | run --stdin -- wc -c) || return 1
    expect_eq "$(echo $out)" 300000
}

t_pty_size_and_resize() {
    local out
    out=$(run --tty --size 120x40 -- stty size </dev/null | tr -d '\r') || return 1
    expect_eq "$out" "40 120" "initial size" || return 1
    out=$(run --tty --size 80x24 --resize 100x30 -- sh -c 'sleep 0.5; stty size' </dev/null | tr -d '\r') || return 1
    expect_eq "$out" "30 100" "after ResizePty" || return 1
    out=$(run --tty -- sh -c '[ -t 0 ] && [ -t 1 ] && echo tty' </dev/null | tr -d '\r')
    expect_eq "$out" tty
}

t_pty_stdin() {
    local out
    local rc
    printf 'echo from-stdin\nexit 3\n' | run --tty --stdin -- sh >"$WORK/out" 2>&1; rc=$?
    out=$(tr -d '\r' < "$WORK/out")
    echo "$out" | grep -q '^from-stdin$' || fail "output: $out" || return 1
    expect_eq "$rc" 3
}

t_cwd_env_user() {
    local out
    out=$(run --cwd /home/user --env FOO=bar --user 1000:1000 -- sh -c 'pwd; echo $FOO; id -u; id -g; echo $HOME') || return 1
    expect_eq "$out" "$(printf '/home/user\nbar\n1000\n1000\n/home/user')" || return 1
    # a missing cwd is created for the container's first process (runc), an exec's must exist
    out=$(run --cwd /new/dir -- pwd) || return 1
    expect_eq "$out" /new/dir "created cwd" || return 1
    rmdir "$HROOTFS/new/dir" "$HROOTFS/new"
    ctl create --id cwd --rootfs "$ROOTFS" -- sleep 100 >/dev/null && ctl start --id cwd || return 1
    ctl exec --id cwd --cwd /no/such/dir -- true 2>"$WORK/err"; local rc=$?
    ctl destroy --id cwd
    [ "$rc" = 125 ] && grep -q 'chdir' "$WORK/err" || fail "missing exec cwd: rc $rc $(cat "$WORK/err")"
}

t_caps_and_nnp() {
    local out
    out=$(run -- sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status') || return 1
    echo "$out" | grep -q 'CapEff:.*00000000a80425fb' || fail "caps: $out" || return 1
    echo "$out" | grep -q 'NoNewPrivs:.*1' || fail "nnp: $out" || return 1
    out=$(run --no-caps -- sh -c 'grep CapEff /proc/self/status')
    echo "$out" | grep -q 'CapEff:.*0000000000000000' || fail "no caps: $out"
}

t_namespaces_and_mounts() {
    local out
    out=$(run -- sh -c 'echo $$; hostname; ls /sys/firmware | wc -l; wc -c < /proc/keys; touch /proc/sys/x 2>/dev/null || echo ro-sys; touch /tmp/ok && echo tmp-rw') || return 1
    expect_eq "$out" "$(printf '1\na3s\n0\n0\nro-sys\ntmp-rw')"
}

t_readonly_rootfs() {
    local out
    out=$(run --readonly -- sh -c 'touch /x 2>/dev/null && echo rw || echo ro; touch /tmp/y && echo tmp-ok') || return 1
    expect_eq "$out" "$(printf 'ro\ntmp-ok')"
}

t_bind_mount() {
    mkdir -p "$SHARE/c/mounts/0" && echo shared-data > "$SHARE/c/mounts/0/file"
    echo single > "$SHARE/c/mounts/1"
    local out
    out=$(run --mount "bind:$GSHARE/c/mounts/0:/data:ro" --mount "bind:$GSHARE/c/mounts/1:/etc/single.txt" -- \
        sh -c 'cat /data/file; cat /etc/single.txt; touch /data/x 2>/dev/null && echo rw || echo ro') || return 1
    expect_eq "$out" "$(printf 'shared-data\nsingle\nro')"
}

t_errors() {
    ctl create --id dup --rootfs "$ROOTFS" -- sleep 100 >/dev/null || return 1
    ctl create --id dup --rootfs "$ROOTFS" -- sleep 100 2>"$WORK/err" >/dev/null
    grep -q 'code 6: container `dup` already exists' "$WORK/err" || fail "dup: $(cat "$WORK/err")" || return 1
    ctl start --id dup || return 1
    ctl start --id dup 2>"$WORK/err"
    grep -q 'code 9: cannot start container `dup`: it is running' "$WORK/err" || fail "start twice: $(cat "$WORK/err")" || return 1
    ctl destroy --id dup || return 1
    ctl destroy --id dup || fail "destroy is idempotent" || return 1
    ctl start --id nosuch 2>"$WORK/err"
    grep -q 'code 5: container `nosuch` not found' "$WORK/err" || fail "unknown: $(cat "$WORK/err")" || return 1
    ctl create --id bad --rootfs /no/such/rootfs -- true 2>"$WORK/err" >/dev/null
    grep -q 'bind rootfs `/no/such/rootfs`: No such file or directory (errno 2, op mount)' "$WORK/err" || fail "bad rootfs: $(cat "$WORK/err")" || return 1
    ctl create --id bad --rootfs "$ROOTFS" -- true >/dev/null || fail "id must be free after a failed create" || return 1
    ctl destroy --id bad
}

t_pause_resume_stats() {
    ctl create --id pz --rootfs "$ROOTFS" -- sh -c 'while :; do sleep 0.05; done' >/dev/null && ctl start --id pz || return 1
    ctl pause --id pz || return 1
    ctl exec --id pz -- true 2>"$WORK/err"
    grep -q 'code 9: cannot exec in container `pz`: it is paused' "$WORK/err" || fail "exec while paused: $(cat "$WORK/err")" || return 1
    local st; st=$(ctl stats --id pz) || return 1
    echo "$st" | grep -q 'pids_current=' || fail "stats: $st" || return 1
    ctl resume --id pz || return 1
    ctl destroy --id pz
}

t_seccomp() {
    local out
    # default allow, mkdir denied with EPERM, an unknown name skipped (as runc does)
    out=$(run --seccomp-deny mkdir,mkdirat,no_such_syscall_xyz -- sh -c 'mkdir /tmp/d 2>&1 || echo denied; echo still-runs') || return 1
    echo "$out" | grep -q '^denied$' && echo "$out" | grep -q '^still-runs$' || fail "$out" || return 1
    out=$(run --no-nnp --seccomp-deny mkdir,mkdirat -- sh -c 'mkdir /tmp/d 2>/dev/null || echo denied') || return 1
    expect_eq "$out" denied "without no_new_privs (filter loaded before the credentials change)"
}

t_oom() {
    if ! ctl create --id oom --rootfs "$ROOTFS" --memory 33554432 -- sh -c 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done' >/dev/null 2>"$WORK/err"; then
        grep -q 'memory.max: No such file' "$WORK/err" && return 2 # no memory controller (a cgroup v1 host)
        fail "$(cat "$WORK/err")"; return 1
    fi
    ctl start --id oom || return 1
    local kills rc
    kills=$(ctl waitoom --id oom) || return 1
    ctl wait --id oom >/dev/null; rc=$?
    ctl destroy --id oom
    [ "$kills" -ge 1 ] || fail "oom_kills $kills" || return 1
    expect_eq "$rc" 137
}

t_update_resources() {
    if ! ctl create --id upd --rootfs "$ROOTFS" --memory 33554432 -- sleep 100 >/dev/null 2>"$WORK/err"; then
        grep -q 'memory.max: No such file' "$WORK/err" && return 2 # no memory controller (a cgroup v1 host)
        fail "$(cat "$WORK/err")"; return 1
    fi
    ctl stats --id upd | grep -q ' memory_limit=33554432 ' || fail "limit at create: $(ctl stats --id upd)" || return 1
    ctl update --id upd --memory 67108864 || return 1
    ctl stats --id upd | grep -q ' memory_limit=67108864 ' || fail "limit after update: $(ctl stats --id upd)" || return 1
    ctl destroy --id upd
}

t_protocol_abuse() {
    ctl raw unknown >"$WORK/out" || fail "unknown: $(cat "$WORK/out")" || return 1
    grep -q '^12 service no.such.Service$' "$WORK/out" && grep -q '^12 method NoSuchMethod$' "$WORK/out" || fail "$(cat "$WORK/out")" || return 1
    ctl raw oversize >"$WORK/out" || return 1
    grep -q 'protocol_version=1' "$WORK/out" || fail "after oversize: $(cat "$WORK/out")" || return 1
    ctl raw badstream >"$WORK/out" || return 1
    grep -q '^3 ' "$WORK/out" || fail "bad request: $(cat "$WORK/out")" || return 1
    ctl raw garbage >"$WORK/out" || return 1
    if [ "$VM" = 1 ]; then
        grep -q '^resynced$' "$WORK/out" || fail "garbage: $(cat "$WORK/out")" || return 1
    else
        grep -q '^dropped$' "$WORK/out" || fail "garbage: $(cat "$WORK/out")" || return 1
    fi
    ctl hello >/dev/null || fail "agent did not serve the next connection"
}

t_containers_survive_reconnect() {
    ctl create --id surv --rootfs "$ROOTFS" -- sleep 1000 >/dev/null || return 1
    ctl start --id surv || return 1
    ctl hello >/dev/null || return 1
    ctl kill --id surv --signal 9 || return 1
    local rc; ctl wait --id surv >/dev/null; rc=$?
    ctl destroy --id surv
    expect_eq "$rc" 137
}

# A host that disconnects with calls pending loses only the answers: the next host asks again and gets
# the exit status and all of the output.
t_pending_calls_across_reconnect() {
    ctl create --id pend --rootfs "$ROOTFS" -- sh -c 'sleep 1; echo after-reconnect; exit 4' >/dev/null || return 1
    ctl start --id pend || return 1
    CTL_TIMEOUT=0.4 ctl wait --id pend >/dev/null 2>&1
    CTL_TIMEOUT=0.4 ctl output --id pend >/dev/null 2>&1
    local rc out
    ctl wait --id pend >/dev/null; rc=$?
    out=$(ctl output --id pend) || return 1
    ctl destroy --id pend
    expect_eq "$rc" 4 && expect_eq "$out" after-reconnect
}

t_no_fd_leak() {
    # runs last: every container is destroyed by now, so the agent has only its own descriptors
    [ "$VM" = 1 ] && return 2
    sleep 0.2
    expect_eq "$(fds)" "$FDS_AT_START" "open descriptors of the agent"
}

ALL_TESTS="hello echo_and_exit_code stderr_separate exit_table signal_exit_codes signal_process kill_all
missing_binary not_executable concurrent_execs bulk_output output_after_exit stdin_eof pty_size_and_resize
pty_stdin cwd_env_user caps_and_nnp namespaces_and_mounts readonly_rootfs bind_mount errors pause_resume_stats
seccomp oom update_resources protocol_abuse containers_survive_reconnect pending_calls_across_reconnect no_fd_leak"

if { [ "$VM" = 0 ] && [ -z "$AGENT_PID" ]; } || ! ctl hello >/dev/null 2>&1; then
    echo "FAIL the agent did not start:"; cat "$LOG"
    echo "0 passed, 1 failed"
    exit 1
fi
sleep 0.2; FDS_AT_START=$(fds)
START=$(now_ms)
for t in ${TESTS:-$ALL_TESTS}; do
    t0=$(now_ms)
    "t_$t"; rc=$?
    if [ "$rc" = 0 ]; then
        PASSED=$((PASSED + 1)); echo "PASS $t ($(( $(now_ms) - t0 )) ms)"
    elif [ "$rc" = 2 ]; then
        SKIPPED=$((SKIPPED + 1)); echo "SKIP $t"
    else
        FAILED=$((FAILED + 1)); FAILURES+=("$t"); echo "FAIL $t ($(( $(now_ms) - t0 )) ms)"
    fi
    if [ "$VM" = 0 ] && ! kill -0 "$AGENT_PID" 2>/dev/null; then
        echo "the agent died; its log:"; cat "$LOG"; FAILED=$((FAILED + 1)); break
    fi
done
if [ "$FAILED" -gt 0 ]; then
    echo "--- agent log (last 40 lines) ---"; tail -40 "$LOG"
fi
echo "total $(( $(now_ms) - START )) ms"
if [ "$SKIPPED" -gt 0 ]; then echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"; else echo "$PASSED passed, $FAILED failed"; fi
[ "$FAILED" = 0 ]
