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
SYSPROBE=$(dirname "$CTL_BIN")/sysprobe   # built beside agentctl (make test): a syscall by number

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
    net_agent_stop
    if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AGENT_PID" 2>/dev/null
    fi
    [ -n "$UNSHARE_PID" ] && wait "$UNSHARE_PID" 2>/dev/null
    for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        for cg in "$CGPARENT" "$CGPARENT-net"; do
            [ -d "$root/$cg" ] && { find "$root/$cg" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null; rmdir "$root/$cg" 2>/dev/null; }
        done
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; [ "$VM" = 1 ] && rm -rf "$SHARE"; fi
}
trap cleanup EXIT

# --- a busybox rootfs under the share, as the host would lay it out ---
make_rootfs() {
    local r=$1
    mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/home/user"
    cp "$BUSYBOX" "$r/bin/busybox"
    [ -x "$SYSPROBE" ] && cp "$SYSPROBE" "$r/bin/sysprobe"
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
# the agent's open descriptors but for the device programs it keeps loaded for reuse (devcg.c)
fds() { ls "/proc/$AGENT_PID/fd" 2>/dev/null | wc -l | { read -r n; echo $((n - $(prog_fds | wc -l))); }; }
prog_fds() { cat /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }'; }

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

# SetClock: in a VM it steps the guest's clock to the host's (an hour off, then back, read back through the
# next call's previous_realtime_ns); in test mode it must leave this host's clock alone and say so.
t_set_clock() {
    local out bad=0 prev set after
    ctl clock 0 2>"$WORK/err" && { fail "realtime_ns 0 accepted"; return 1; }
    grep -qF 'code 3: realtime_ns: 0 is not a time' "$WORK/err" || fail "clock 0: $(cat "$WORK/err")" || bad=1
    if [ "$VM" = 0 ]; then
        out=$(ctl clock 1000000000) || return 1
        echo "$out" | grep -q ' set=0 ' || fail "test mode set the clock: $out" || bad=1
        [ "$(date +%s)" -gt 1700000000 ] || fail "the host's clock was changed: $(date)" || bad=1
        return $bad
    fi
    ctl clock "$(( $(date +%s%N) - 3600000000000 ))" >/dev/null || return 1
    out=$(ctl clock) || return 1
    read -r prev set after <<<"$(echo "$out" | sed 's/[a-z_]*=//g')"
    [ "$set" = 1 ] || fail "not set in a VM: $out" || bad=1
    # the guest was an hour behind: previous is about now - 1 h
    [ $(( after - prev - 3600000000000 )) -lt 5000000000 ] && [ $(( after - prev )) -gt 3590000000000 ] \
        || fail "the clock was not stepped back an hour: $out" || bad=1
    out=$(ctl clock) || return 1
    read -r prev set after <<<"$(echo "$out" | sed 's/[a-z_]*=//g')"
    local skew=$(( after - prev ))
    [ "$skew" -ge 0 ] && [ "$skew" -lt 200000000 ] || fail "guest clock ${skew} ns off after a set: $out" || bad=1
    return $bad
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

# A container whose command is missing is not created (125: agentctl's create failure), as with runc; an
# exec's missing command fails its start (127).
t_missing_binary() {
    local t0 rc t1
    t0=$(now_ms)
    run -- /no/such/binary 2>"$WORK/err"; rc=$?
    t1=$(now_ms)
    expect_eq "$rc" 125 || return 1
    grep -q 'errno 2, op execve' "$WORK/err" || fail "create error: $(cat "$WORK/err")" || return 1
    [ $((t1 - t0)) -lt 3000 ] || fail "took $((t1 - t0)) ms" || return 1
    run -- nosuchcommand 2>"$WORK/err"; rc=$?
    expect_eq "$rc" 125 && grep -q 'not found in \$PATH' "$WORK/err" || fail "$(cat "$WORK/err")" || return 1
    ctl create --id nobin --rootfs "$ROOTFS" -- sleep 1000 >/dev/null && ctl start --id nobin || return 1
    ctl exec --id nobin -- /no/such/binary 2>"$WORK/err"; rc=$?
    ctl destroy --id nobin
    expect_eq "$rc" 127 && grep -q 'errno 2, op execve' "$WORK/err" || fail "exec: $(cat "$WORK/err")"
}

t_not_executable() {
    printf 'not a program\n' > "$HROOTFS/notexec"; chmod 644 "$HROOTFS/notexec"
    local rc; run -- /notexec 2>"$WORK/err"; rc=$?
    rm -f "$HROOTFS/notexec"
    expect_eq "$rc" 125 && grep -q 'errno 13' "$WORK/err" || fail "$(cat "$WORK/err")"
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

# An exec's terminal is a pty of the container's own /dev/pts (as runc allocates it): `tty` names it, and
# the init's terminal is /dev/console.
t_exec_pty_is_the_containers() {
    ctl create --id ptyx --tty --rootfs "$ROOTFS" -- sh -c 'tty; sleep 100' >/dev/null && ctl start --id ptyx || return 1
    local out
    out=$(ctl exec --id ptyx --tty -- sh -c 'tty; ls -1 /dev/pts' </dev/null | tr -d '\r'); local rc=$?
    ctl kill --id ptyx --signal 9 >/dev/null; ctl destroy --id ptyx >/dev/null
    [ "$rc" = 0 ] || fail "exec: rc $rc" || return 1
    echo "$out" | head -1 | grep -q '^/dev/pts/[0-9]*$' || fail "tty in an exec: $out" || return 1
    local n=${out%%$'\n'*}; n=${n#/dev/pts/}
    echo "$out" | tail -n +2 | grep -qx "$n" || fail "the exec's pty is not in the container's /dev/pts: $out"
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
    # runc's environment: a repeated name keeps its last value, once; an empty HOME is the user's
    out=$(run --env FOO=a --env HOME= --env FOO=b --user 1000:1000 -- sh -c 'echo $FOO $HOME; env | grep -c ^FOO=') || return 1
    expect_eq "$(echo $out)" "b /home/user 1" "repeated and empty variables" || return 1
    # a missing cwd is created for the container's first process (runc), an exec's must exist
    out=$(run --cwd /new/dir -- pwd) || return 1
    expect_eq "$out" /new/dir "created cwd" || return 1
    rmdir "$HROOTFS/new/dir" "$HROOTFS/new"
    # created right after pivot_root, as runc does: before the root is made read-only, and 0755 whatever the
    # process's umask
    out=$(run --readonly --cwd /ro/cwd -- pwd 2>&1); local rc=$?
    rmdir "$HROOTFS/ro/cwd" "$HROOTFS/ro" 2>/dev/null
    [ "$rc" = 0 ] && expect_eq "$out" /ro/cwd "created cwd in a read-only rootfs" || fail "read-only rootfs: rc $rc $out" || return 1
    out=$(run --umask 0077 --cwd /um/dir -- sh -c 'stat -c %a /um /um/dir; touch f; stat -c %a f')
    rm -rf "$HROOTFS/um"
    expect_eq "$(echo $out)" "755 755 600" "created cwd with umask 0077" || return 1
    ctl create --id cwd --rootfs "$ROOTFS" -- sleep 100 >/dev/null && ctl start --id cwd || return 1
    ctl exec --id cwd --cwd /no/such/dir -- true 2>"$WORK/err"; rc=$?
    ctl destroy --id cwd
    [ "$rc" = 125 ] && grep -q 'chdir' "$WORK/err" || fail "missing exec cwd: rc $rc $(cat "$WORK/err")"
}

# path_skip, the host's hint: the PATH search starts after the entries it found no binary in; never past the last
t_path_skip() {
    local out
    out=$(run --env PATH=/nope:/bin --path-skip 1 -- echo skipped) || return 1
    expect_eq "$out" skipped "skip one entry" || return 1
    out=$(run --env PATH=/nope:/bin --path-skip 9 -- echo past-the-end) || return 1
    expect_eq "$out" past-the-end "a hint past the end still searches the last entry" || return 1
    # the hint is trusted: skipping the entry that holds the binary loses it (the host never hints that)
    run --env PATH=/bin:/nope --path-skip 1 -- echo lost >/dev/null 2>"$WORK/err"; local rc=$?
    [ "$rc" = 125 ] || fail "skipped past the binary: rc $rc $(cat "$WORK/err")"
}

t_caps_and_nnp() {
    local out
    out=$(run -- sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status') || return 1
    echo "$out" | grep -q 'CapEff:.*00000000a80425fb' || fail "caps: $out" || return 1
    echo "$out" | grep -q 'NoNewPrivs:.*1' || fail "nnp: $out" || return 1
    # present with every set empty: exactly that, nothing
    out=$(run --no-caps -- sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/self/status' | awk '{print $2}' | tr '\n' ' ')
    expect_eq "$out" "0000000000000000 0000000000000000 " "empty capability sets" || return 1
    # an ambient capability that cannot be raised (not inheritable) is a warning, as with runc
    out=$(run --ambient CAP_NET_RAW -- sh -c 'grep CapAmb /proc/self/status' 2>&1) || fail "ambient not inheritable: $out" || return 1
    expect_eq "$(echo $out)" "CapAmb: 0000000000000000" "ambient not inheritable" || return 1
    if [ "$VM" = 0 ]; then grep -q "can't raise ambient capability CAP_NET_RAW" "$LOG" || fail "no warning in the agent's log"; fi
}

# Absent capabilities follow runc: nothing is touched, so root keeps all it has (the agent's), and a
# non-root uid loses them by the kernel's rule with the bounding set intact.
t_caps_absent() {
    local out eff prm bnd want
    out=$(run --keep-caps -- sh -c 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status') || return 1
    eff=$(echo "$out" | awk '/^CapEff/ {print $2}'); prm=$(echo "$out" | awk '/^CapPrm/ {print $2}')
    bnd=$(echo "$out" | awk '/^CapBnd/ {print $2}')
    [ "$eff" != 0000000000000000 ] && [ "$eff" = "$prm" ] && [ "$eff" = "$bnd" ] || fail "root: $out" || return 1
    if [ "$VM" = 0 ]; then
        want=$(awk '/^CapBnd/ {print $2}' "/proc/$AGENT_PID/status")
        expect_eq "$bnd" "$want" "the agent's bounding set" || return 1
    fi
    out=$(run --keep-caps --user 1000:1000 -- sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/self/status' | awk '{print $2}' | tr '\n' ' ')
    expect_eq "$out" "0000000000000000 $bnd " "non-root uid" || return 1
    # the filter is then loaded before the uid change (no no_new_privs, no CAP_SYS_ADMIN afterwards)
    out=$(run --keep-caps --no-nnp --user 1000:1000 --seccomp-deny mkdir,mkdirat -- sh -c 'mkdir /tmp/d 2>/dev/null || echo denied') || return 1
    expect_eq "$out" denied "seccomp with absent capabilities" || return 1
    ctl create --id capx --rootfs "$ROOTFS" -- sleep 100 >/dev/null && ctl start --id capx || return 1
    out=$(ctl exec --id capx --keep-caps -- sh -c 'grep CapEff /proc/self/status' | awk '{print $2}')
    ctl destroy --id capx
    expect_eq "$out" "$bnd" "exec with absent capabilities"
}

t_delete_process() {
    ctl create --id del --rootfs "$ROOTFS" -- sleep 1000 >/dev/null && ctl start --id del || return 1
    local rc bad=0
    ctl exec --id del --exec-id e1 -- sh -c 'exit 3'; rc=$?
    expect_eq "$rc" 3 || bad=1
    ctl delete --id del --exec-id e1 || bad=1
    ctl wait --id del --exec-id e1 >/dev/null 2>"$WORK/err"; rc=$?
    [ "$rc" = 125 ] && grep -q 'code 5' "$WORK/err" || { echo "    deleted exec still known: $rc $(cat "$WORK/err")"; bad=1; }
    ctl exec --id del --exec-id e1 -- sh -c 'exit 4'; rc=$?
    expect_eq "$rc" 4 "exec id used again after delete" || bad=1
    # not finished: created (parked), then running
    ctl execcreate --id del --exec-id e2 -- sleep 100 >/dev/null || bad=1
    ctl delete --id del --exec-id e2 2>"$WORK/err"
    grep -q 'code 9: cannot delete exec `e2` in container `del`: it is created' "$WORK/err" || { echo "    created: $(cat "$WORK/err")"; bad=1; }
    ctl start --id del --exec-id e2 || bad=1
    ctl delete --id del --exec-id e2 2>"$WORK/err"
    grep -q 'code 9: cannot delete exec `e2` in container `del`: it is running' "$WORK/err" || { echo "    running: $(cat "$WORK/err")"; bad=1; }
    ctl kill --id del --exec-id e2 --signal 9 || bad=1
    ctl wait --id del --exec-id e2 >/dev/null
    ctl output --id del --exec-id e2 || bad=1
    ctl delete --id del --exec-id e2 || bad=1
    ctl delete --id del --exec-id nosuch 2>"$WORK/err"
    grep -q 'code 5: process `nosuch` not found' "$WORK/err" || { echo "    unknown: $(cat "$WORK/err")"; bad=1; }
    ctl delete --id del 2>"$WORK/err"
    grep -q 'code 3: ' "$WORK/err" || { echo "    init: $(cat "$WORK/err")"; bad=1; }
    ctl destroy --id del || bad=1
    return $bad
}

t_exec_while_parked() {
    # runc execs into a created container (only stopped and paused ones are refused): the exec joins the parked
    # init's namespaces, which are complete before it parks
    ctl create --id pk --rootfs "$ROOTFS" --hostname parked -- sh -c 'echo init ran' >/dev/null || return 1
    local out rc bad=0
    out=$(ctl exec --id pk --exec-id e1 -- sh -c 'hostname; echo exec ran; exit 5' 2>&1); rc=$?
    expect_eq "$rc" 5 "exit of the exec into the parked container" || bad=1
    expect_eq "$(echo $out)" "parked exec ran" "the exec's output, in the init's uts namespace" || bad=1
    ctl start --id pk || bad=1
    out=$(ctl wait --id pk 2>&1) || bad=1
    expect_eq "$(ctl output --id pk 2>&1)" "init ran" "the init, released after the exec" || bad=1
    ctl destroy --id pk || bad=1
    return $bad
}

t_namespaces_and_mounts() {
    local out
    out=$(run -- sh -c 'echo $$; hostname; ls /sys/firmware | wc -l; wc -c < /proc/keys; touch /proc/sys/x 2>/dev/null || echo ro-sys; touch /tmp/ok && echo tmp-rw') || return 1
    expect_eq "$out" "$(printf '1\na3s\n0\n0\nro-sys\ntmp-rw')"
}

# A pod: container B joins the ipc and uts namespaces of container A (the sandbox) by A's pid, as the host
# sends it (the pid CreateContainer answered). B's first process and its execs are in them; B's mount
# namespace is still its own.
t_join_ipc_uts() {
    local apid probe='for n in ipc uts mnt; do readlink /proc/self/ns/$n; done; hostname'
    apid=$(ctl create --id poda --hostname podA --rootfs "$ROOTFS" -- sleep 1000) && ctl start --id poda || return 1
    local a b bx plain bad=0
    a=$(ctl exec --id poda -- sh -c "$probe")
    b=$(run --id podb1 --hostname '' --join-ns "ipc:$apid" --join-ns "uts:$apid" -- sh -c "$probe")
    ctl create --id podb --hostname '' --join-ns "ipc:$apid" --join-ns "uts:$apid" --rootfs "$ROOTFS" -- sleep 1000 >/dev/null &&
        ctl start --id podb || bad=1
    bx=$(ctl exec --id podb -- sh -c "$probe")
    plain=$(run -- sh -c "$probe")
    # as runc: a hostname in a joined uts namespace renames it, for A too
    run --id podb2 --hostname other --join-ns "uts:$apid" -- true >/dev/null || bad=1
    local renamed
    renamed=$(ctl exec --id poda -- hostname)
    ctl destroy --id podb; ctl destroy --id poda
    [ "$bad" = 0 ] || return 1
    expect_eq "$(echo $a | cut -d' ' -f4)" podA "A's hostname" || return 1
    expect_eq "$(echo $b | cut -d' ' -f1,2,4)" "$(echo $a | cut -d' ' -f1,2,4)" "B's ipc, uts and hostname" || return 1
    expect_eq "$(echo $bx | cut -d' ' -f1,2,4)" "$(echo $a | cut -d' ' -f1,2,4)" "an exec in B" || return 1
    [ "$(echo $b | cut -d' ' -f3)" != "$(echo $a | cut -d' ' -f3)" ] || fail "B shares A's mount namespace: $b" || return 1
    [ "$(echo $plain | cut -d' ' -f1)" != "$(echo $a | cut -d' ' -f1)" ] || fail "a container without joins shares A's ipc: $plain" || return 1
    expect_eq "$renamed" other "A's hostname after B set one in the joined uts namespace"
}

# Shared process namespace: B joins A's pid namespace and sees A's process (A's pid 1), as does an exec in
# B; A sees B's. The namespace dies with A's init, and B's processes with it.
t_join_pid() {
    local apid out rc
    apid=$(ctl create --id pida --rootfs "$ROOTFS" -- sleep 1000) && ctl start --id pida || return 1
    out=$(run --id pidb1 --join-ns "pid:$apid" -- sh -c 'tr "\0" " " < /proc/1/cmdline; echo; [ $$ != 1 ] && echo not-pid-1; ps | grep -c "[s]leep 1000"')
    expect_eq "$out" "$(printf 'sleep 1000 \nnot-pid-1\n1')" "B's first process" || { ctl destroy --id pida; return 1; }
    ctl create --id pidb --join-ns "pid:$apid" --rootfs "$ROOTFS" -- sleep 1001 >/dev/null && ctl start --id pidb ||
        { ctl destroy --id pida; return 1; }
    out=$(ctl exec --id pidb -- sh -c 'tr "\0" " " < /proc/1/cmdline; echo; ps | grep -c "[s]leep 100[01]"')
    expect_eq "$out" "$(printf 'sleep 1000 \n2')" "an exec in B" || { ctl destroy --id pidb; ctl destroy --id pida; return 1; }
    out=$(ctl exec --id pida -- sh -c 'ps | grep -c "[s]leep 1001"')
    expect_eq "$out" 1 "A sees B's process" || { ctl destroy --id pidb; ctl destroy --id pida; return 1; }
    ctl destroy --id pida || return 1
    ctl wait --id pidb >/dev/null; rc=$?
    ctl destroy --id pidb
    expect_eq "$rc" 137 "B after A's init died"
}

# A container without a pid namespace of its own (here B, in A's): when its init dies, the agent kills what
# else runs in B's cgroup, as runc's shim does (ShouldKillAllOnExit); left alive, B's orphan would hold B's
# stdio open. A, whose namespace it was, lives on.
t_kill_all_on_init_exit() {
    local apid n rc
    apid=$(ctl create --id koa --rootfs "$ROOTFS" -- sleep 1000) && ctl start --id koa || return 1
    ctl create --id kob --join-ns "pid:$apid" --rootfs "$ROOTFS" -- sh -c 'sleep 1002 & sleep 1003' >/dev/null &&
        ctl start --id kob || { ctl destroy --id koa; return 1; }
    for _ in $(seq 1 100); do
        n=$(ctl exec --id koa -- sh -c 'ps | grep -c "[s]leep 100[23]"'); [ "$n" = 2 ] && break; sleep 0.05
    done
    [ "$n" = 2 ] || { fail "B's two sleeps never ran: $n"; ctl destroy --id kob; ctl destroy --id koa; return 1; }
    ctl kill --id kob --signal 9 || { ctl destroy --id kob; ctl destroy --id koa; return 1; }
    ctl wait --id kob >/dev/null; rc=$?
    for _ in $(seq 1 40); do
        n=$(ctl exec --id koa -- sh -c 'ps | grep -c "[s]leep 1002"'); [ "$n" = 0 ] && break; sleep 0.05
    done
    local a; a=$(ctl exec --id koa -- sh -c 'ps | grep -c "[s]leep 1000"')
    ctl destroy --id kob; ctl destroy --id koa
    expect_eq "$rc" 137 "B's init" && expect_eq "$n" 0 "B's orphan after B's init died" &&
        expect_eq "$a" 1 "A's own process"
}

# Joins the agent refuses: an unknown pid (the create fails and leaves nothing: the id is free again), a
# process that exited, a type other than ipc/uts/pid, a type both created and joined or joined twice, joins
# with a new user namespace.
t_join_errors() {
    local apid xpid fds0 bad=0
    [ "$VM" = 0 ] && fds0=$(fds)
    ctl create --id jbad --join-ns ipc:999999 --rootfs "$ROOTFS" -- true >/dev/null 2>"$WORK/err"
    grep -q 'code 2: create container `jbad`: join the ipc namespace of pid 999999: not a process of a container in this VM (errno 3, op setns)' "$WORK/err" ||
        fail "unknown pid: $(cat "$WORK/err")" || return 1
    if [ "$VM" = 0 ]; then expect_eq "$(fds)" "$fds0" "descriptors of the agent after the failed create" || return 1; fi
    ctl create --id jbad --rootfs "$ROOTFS" -- true >/dev/null || fail "id not free after a failed create" || return 1
    ctl destroy --id jbad
    apid=$(ctl create --id jsrc --rootfs "$ROOTFS" -- sleep 1000) && ctl start --id jsrc || return 1
    xpid=$(ctl create --id jgone --rootfs "$ROOTFS" -- true) && ctl start --id jgone && ctl wait --id jgone >/dev/null
    ctl create --id jbad --join-ns "uts:$xpid" --rootfs "$ROOTFS" -- true >/dev/null 2>"$WORK/err"
    grep -q "join the uts namespace of pid $xpid: not a process of a container in this VM (errno 3, op setns)" "$WORK/err" ||
        { echo "    exited process: $(cat "$WORK/err")"; bad=1; }
    local t
    for t in net mnt; do
        ctl create --id jbad --join-ns "$t:$apid" --rootfs "$ROOTFS" -- true >/dev/null 2>"$WORK/err"
        grep -q "code 3: container \`jbad\`: cannot join the \`$t\` namespace of another container: only ipc, uts and pid namespaces are joined (errno 22, op setns)" "$WORK/err" ||
            { echo "    $t: $(cat "$WORK/err")"; bad=1; }
    done
    ctl create --id jbad --keep-ns-flags --join-ns "ipc:$apid" --rootfs "$ROOTFS" -- true >/dev/null 2>"$WORK/err"
    grep -q 'code 3: container `jbad`: both creates and joins the ipc namespace (errno 22, op setns)' "$WORK/err" ||
        { echo "    create and join: $(cat "$WORK/err")"; bad=1; }
    ctl create --id jbad --join-ns "pid:$apid" --join-ns "pid:$apid" --rootfs "$ROOTFS" -- true >/dev/null 2>"$WORK/err"
    grep -q 'code 3: container `jbad`: joins the pid namespace more than once' "$WORK/err" ||
        { echo "    joined twice: $(cat "$WORK/err")"; bad=1; }
    ctl create --id jbad --userns 0:100000:65536 --join-ns "ipc:$apid" --rootfs "$ROOTFS" -- true >/dev/null 2>"$WORK/err"
    grep -q 'code 3: container `jbad`: joining namespaces together with a new user namespace is not supported' "$WORK/err" ||
        { echo "    user namespace: $(cat "$WORK/err")"; bad=1; }
    ctl create --id jbad --rootfs "$ROOTFS" -- true >/dev/null || { echo "    id not free at the end"; bad=1; }
    ctl destroy --id jbad; ctl destroy --id jgone; ctl destroy --id jsrc
    return $bad
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
    expect_eq "$out" "$(printf 'shared-data\nsingle\nro')" || return 1
    # per-mount flags that are no filesystem data: nosymfollow
    out=$(run --mount "tmpfs:tmpfs:/nsf:nosymfollow,size=1m" -- sh -c 'ln -s /etc/passwd /nsf/l; cat /nsf/l >/dev/null 2>&1 && echo followed || echo not-followed') || return 1
    expect_eq "$out" not-followed "nosymfollow" || return 1
    # a read-only tmpfs is made read-only at the end (runc's finalizeRootfs): mount points under it can be made
    # (with its other flags)
    out=$(run --mount "tmpfs:tmpfs:/rot:ro,nosuid,noexec,size=1m" --mount "bind:$GSHARE/c/mounts/0:/rot/sub" --mount "tmpfs:tmpfs:/rot/t" -- \
        sh -c 'cat /rot/sub/file; touch /rot/x 2>/dev/null && echo rw || echo ro; touch /rot/t/y && echo sub-rw; awk "\$5 == \"/rot\" { print \$6 }" /proc/self/mountinfo | sed "s/,relatime//"' 2>&1) ||
        fail "read-only tmpfs with mounts under it: $out" || return 1
    expect_eq "$(echo $out)" "shared-data ro sub-rw ro,nosuid,noexec" "read-only tmpfs with mounts under it"
}

# What a process writes through the share is on the host when its exit is reported: in a VM the share is
# 9p with cache=loose, which keeps writes in the guest until the agent syncs it (at every exit).
t_share_written_at_exit() {
    mkdir -p "$SHARE/c/mounts/w"
    run --mount "bind:$GSHARE/c/mounts/w:/out" -- sh -c 'echo written > /out/f; echo more >> /root/f2' || return 1
    expect_eq "$(cat "$SHARE/c/mounts/w/f" 2>/dev/null)" written "bind mount" &&
        expect_eq "$(cat "$HROOTFS/root/f2" 2>/dev/null)" more "rootfs"
}

# A rootfs owned by 100000:100000 on the share (as containerd's --uidmap leaves it) and a user namespace
# mapping 0 -> 100000: root inside owns the files, and what it creates is 100000 outside.
t_user_namespace() {
    local hroot=$SHARE/u/rootfs groot=$GSHARE/u/rootfs out
    # the mapped root must be able to search the directories above the rootfs (as with runc)
    [ "$VM" = 0 ] && chmod 755 "$WORK"
    make_rootfs "$hroot"
    chown -R 100000:100000 "$hroot" && chown -R 101000:101000 "$hroot/home/user"
    out=$(ctl run --rootfs "$groot" --userns 0:100000:65536 -- sh -c 'id -u; id -g; cat /proc/self/uid_map | tr -s " "; stat -c %u /bin/busybox; touch /root/made-inside; ls /sys/kernel >/dev/null && echo sys-ok; echo $$; echo x > /dev/null && echo null-ok; hostname') || return 1
    expect_eq "$out" "$(printf '0\n0\n 0 100000 65536\n0\nsys-ok\n1\nnull-ok\na3s')" || return 1
    expect_eq "$(stat -c %u:%g "$hroot/root/made-inside")" 100000:100000 "owner seen outside" || return 1
    ctl create --id uns --rootfs "$groot" --userns 0:100000:65536 -- sleep 100 >/dev/null && ctl start --id uns || return 1
    out=$(ctl exec --id uns --user 1000:1000 -- sh -c 'id -u; cat /proc/self/uid_map | tr -s " "; touch /home/user/f; echo $HOME')
    ctl destroy --id uns
    expect_eq "$out" "$(printf '1000\n 0 100000 65536\n/home/user')" "exec" || return 1
    expect_eq "$(stat -c %u "$hroot/home/user/f")" 101000 "file of uid 1000 outside" || return 1
    # cgroup2 needs a cgroup namespace owned by the user namespace; without one, the container's own
    # cgroup directory is bound instead (runc's fallback)
    local cg="--mount cgroup:cgroup:/sys/fs/cgroup:ro,nosuid"
    out=$(ctl run --rootfs "$groot" --userns 0:100000:65536 $cg -- sh -c 'grep -cx 1 /sys/fs/cgroup/cgroup.procs') || return 1
    expect_eq "$out" 1 "cgroup2 with a cgroup namespace" || return 1
    out=$(ctl run --rootfs "$groot" --userns 0:100000:65536 --no-cgroupns $cg -- sh -c 'grep -c . /sys/fs/cgroup/cgroup.procs; awk "\$5 == \"/sys/fs/cgroup\" { o = substr(\$6, 1, 2) } END { print o }" /proc/self/mountinfo') || return 1
    expect_eq "$(echo $out)" "2 ro" "cgroup2 without a cgroup namespace: the container's cgroup, read-only" || return 1
    # a map the kernel refuses fails the create, and the id is free again
    ctl create --id unsbad --rootfs "$groot" --userns 0:100000:0 -- true >/dev/null 2>"$WORK/err"
    grep -q 'code 2: create container `unsbad`: uid_map of the user namespace: Invalid argument (errno 22, op write)' "$WORK/err" || fail "bad map: $(cat "$WORK/err")" || return 1
    # the agent reaps the failed child and removes its cgroup before it answers: the id is free at once
    ctl create --id unsbad --rootfs "$groot" --userns 0:100000:65536 -- true >/dev/null 2>"$WORK/err" ||
        fail "id not free again: $(cat "$WORK/err")" || return 1
    ctl destroy --id unsbad
}

t_time_namespace() {
    local out
    out=$(run --time-offset boottime:86400 --time-offset monotonic:3600:5 -- cat /proc/uptime) || return 1
    echo "$out" | awk '{ exit !($1 >= 86400) }' || fail "uptime $out" || return 1
    ctl create --id tns --rootfs "$ROOTFS" --time-offset boottime:172800 -- sleep 100 >/dev/null && ctl start --id tns || return 1
    out=$(ctl exec --id tns -- cat /proc/uptime)
    ctl destroy --id tns
    echo "$out" | awk '{ exit !($1 >= 172800) }' || fail "exec uptime $out"
}

t_sched_ioprio_personality() {
    local out
    out=$(run --sched SCHED_BATCH:7 --ioprio BE:6 --personality LINUX32 -- sh -c 'awk "{print \$19, \$41}" /proc/self/stat; ionice; uname -m') || return 1
    expect_eq "$out" "$(printf '7 3\nbest-effort: prio 6\ni686')" || return 1
    ctl create --id sch --rootfs "$ROOTFS" --personality LINUX32 -- sleep 100 >/dev/null && ctl start --id sch || return 1
    out=$(ctl exec --id sch --sched SCHED_IDLE --ioprio IDLE -- sh -c 'awk "{print \$41}" /proc/self/stat; ionice; uname -m')
    ctl destroy --id sch
    expect_eq "$out" "$(printf '5\nidle\ni686')" "exec" || return 1
    run --sched SCHED_NOPE -- true 2>"$WORK/err"
    grep -q 'code 3: unknown scheduling policy `SCHED_NOPE`' "$WORK/err" || fail "bad policy: $(cat "$WORK/err")"
}

t_devices() {
    local out
    out=$(run --device c:1:7:/dev/myfull:0640:1000:1000 --device p:0:0:/dev/fifo0 --device c:1:3:/dev/sub/null2 -- \
        sh -c 'stat -c "%A %u %g %t %T" /dev/myfull /dev/fifo0 /dev/sub/null2; echo x > /dev/sub/null2 && echo ok') || return 1
    expect_eq "$out" "$(printf 'crw-r----- 1000 1000 1 7\nprw-rw-rw- 0 0 0 0\ncrw-rw-rw- 0 0 1 3\nok')" || return 1
    # the last mount on /dev decides whether the standard nodes are made, its destination compared as a clean
    # path (runc's CleanPath): a tmpfs on //dev gets them, a bind on /dev/ does not (nothing written to its source
    # but for the null node it has, which the masked paths need)
    local d=$SHARE/c/mounts/dev
    mkdir -p "$d" && mknod -m 666 "$d/null" c 1 3 || return 1
    out=$(run --mount "bind:$GSHARE/c/mounts/dev:/dev" --mount "tmpfs:tmpfs://dev:mode=755" -- sh -c '[ -c /dev/null ] && [ -c /dev/urandom ] && [ -L /dev/fd ] && echo nodes' 2>&1)
    expect_eq "$out" nodes "tmpfs on //dev" || return 1
    out=$(run --mount "bind:$GSHARE/c/mounts/dev:/dev/" -- true 2>&1) || fail "bind on /dev/: $out" || return 1
    out=$(ls -A "$d"); rm -rf "$d"
    expect_eq "$(echo $out)" null "what the source of a bind on /dev/ holds afterwards" || return 1
    # no mount on /dev at all: runc makes the standard nodes and links in the rootfs's own /dev (made if missing),
    # where they stay
    local hdev=$HROOTFS/dev saved=""
    [ -e "$hdev" ] && { saved=$WORK/rootfs-dev; mv "$hdev" "$saved"; }
    out=$(run --no-dev -- sh -c 'stat -c "%n %F %t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty;
        readlink /dev/fd; readlink /dev/ptmx; head -c 3 /dev/zero | wc -c; echo x > /dev/null && echo written' 2>&1)
    local left; left=$(ls -A "$hdev" 2>&1 | tr '\n' ' ')
    rm -rf "$hdev"; [ -n "$saved" ] && mv "$saved" "$hdev"
    expect_eq "$out" "$(printf '%s\n' '/dev/null character special file 1:3 666' '/dev/zero character special file 1:5 666' \
        '/dev/full character special file 1:7 666' '/dev/random character special file 1:8 666' \
        '/dev/urandom character special file 1:9 666' '/dev/tty character special file 5:0 666' /proc/self/fd pts/ptmx 3 written)" \
        "no /dev mount" || return 1
    case "$left" in *null*urandom*zero*) ;; *) fail "the rootfs's /dev afterwards: $left" || return 1 ;; esac
}

# rro and friends reach submounts (mount_setattr with AT_RECURSIVE); ro alone does not.
t_recursive_mount_attrs() {
    local src=$SHARE/c/mounts/2 out sub=0
    mkdir -p "$src/sub"
    if [ "$VM" = 0 ]; then
        nsenter -t "$AGENT_PID" -m mount -t tmpfs tmpfs "$src/sub" && sub=1
    fi
    local probe='touch /rec/x 2>/dev/null && echo rw || echo ro; touch /rec/sub/y 2>/dev/null && echo rw || echo ro; grep " /rec/sub " /proc/self/mountinfo | grep -q nosuid && echo nosuid || echo suid'
    out=$(run --mount "bind:$GSHARE/c/mounts/2:/rec:rbind,rro,rnosuid" -- sh -c "$probe")
    local want_rec="ro ro nosuid" want_plain="ro rw suid" want_clear="rw rw suid"
    if [ "$sub" = 0 ]; then want_rec="ro ro suid"; want_plain="ro ro suid"; want_clear="rw rw suid"; fi
    expect_eq "$(echo $out)" "$want_rec" "rbind,rro,rnosuid" || { [ "$sub" = 1 ] && nsenter -t "$AGENT_PID" -m umount "$src/sub"; return 1; }
    out=$(run --mount "bind:$GSHARE/c/mounts/2:/rec:rbind,ro" -- sh -c "$probe")
    expect_eq "$(echo $out)" "$want_plain" "rbind,ro" || { [ "$sub" = 1 ] && nsenter -t "$AGENT_PID" -m umount "$src/sub"; return 1; }
    out=$(run --mount "bind:$GSHARE/c/mounts/2:/rec:rbind,ro,rrw" -- sh -c "$probe")
    [ "$sub" = 1 ] && nsenter -t "$AGENT_PID" -m umount "$src/sub"
    rm -rf "$src"
    expect_eq "$(echo $out)" "$want_clear" "rbind,ro,rrw"
}

t_rootfs_propagation() {
    local out
    local probe='awk "\$5 == \"/\" { print (/ shared:/ ? \"shared\" : \"private\") }" /proc/self/mountinfo'
    out=$(run --rootfs-propagation rshared -- sh -c "$probe") || return 1
    expect_eq "$out" shared "rshared" || return 1
    out=$(run -- sh -c "$probe")
    expect_eq "$out" private "default"
}

# sysctls are written before /proc/sys is made read-only (runc's order)
t_sysctl() {
    local out
    out=$(run --sysctl kernel.msgmax=12345 -- sh -c 'cat /proc/sys/kernel/msgmax; (echo 1 > /proc/sys/kernel/msgmax) 2>/dev/null || echo ro') || return 1
    expect_eq "$out" "$(printf '12345\nro')"
}

# The device allowlist as a cgroup v2 BPF program: created with the container, replaced by an update.
t_device_cgroup() {
    local probe='head -c 3 /dev/zero | wc -c; (echo x > /dev/zero) 2>/dev/null && echo zero-w || echo zero-no-w; (: < /dev/full) 2>/dev/null && echo full || echo no-full; (echo x > /dev/null) 2>/dev/null && echo null || echo no-null'
    local rules="--dev-rule deny:a --dev-rule allow:c:*:*:m --dev-rule allow:b:*:*:m --dev-rule allow:c:1:3:rwm
        --dev-rule allow:c:1:5:r --dev-rule allow:c:136:*:rwm --dev-rule allow:c:5:2:rwm"
    # shellcheck disable=SC2086 # the rules are words
    if ! ctl create --id dcg --rootfs "$ROOTFS" $rules -- sleep 100 >/dev/null 2>"$WORK/err"; then
        grep -q 'cgroups are not available' "$WORK/err" && return 2
        fail "$(cat "$WORK/err")"; return 1
    fi
    ctl start --id dcg || return 1
    local out bad=0
    out=$(ctl exec --id dcg -- sh -c "$probe")
    expect_eq "$(echo $out)" "3 zero-no-w no-full null" "deny all, allow null and reading zero" || bad=1
    # a second container with the same rules takes the program already loaded (one verifier run saved); the
    # first one's update loads a program of its own, and leaves the second's rules as they were
    local progs; progs=$(prog_fds | sort -u | wc -l)
    # shellcheck disable=SC2086
    ctl create --id dcg2 --rootfs "$ROOTFS" $rules -- sleep 100 >/dev/null && ctl start --id dcg2 || bad=1
    if [ "$VM" = 0 ]; then
        expect_eq "$(prog_fds | sort -u | wc -l)" "$progs" "device programs after a second container with the same rules" || bad=1
    fi
    ctl update --id dcg --dev-rule allow:a || bad=1
    out=$(ctl exec --id dcg -- sh -c "$probe")
    expect_eq "$(echo $out)" "3 zero-w full null" "after update: allow all" || bad=1
    out=$(ctl exec --id dcg2 -- sh -c "$probe")
    expect_eq "$(echo $out)" "3 zero-no-w no-full null" "the second container after the first's update" || bad=1
    ctl destroy --id dcg2 || bad=1
    ctl update --id dcg --dev-rule allow:a --dev-rule deny:c:1:7:rw --dev-rule deny:c:1:5:w || bad=1
    out=$(ctl exec --id dcg -- sh -c "$probe")
    expect_eq "$(echo $out)" "3 zero-no-w no-full null" "after update: allow all but full and writing zero" || bad=1
    ctl destroy --id dcg || bad=1
    return $bad
}

# cgroup v2 files the runtime-spec maps to: hugetlb limits, cpu.idle, cpu.max.burst, "max" for -1.
# Each part runs where the hierarchy has the controller (read inside, through a cgroup namespace).
t_cgroup_files() {
    local cg="--mount cgroup2:cgroup:/sys/fs/cgroup:ro" avail out ran=0
    avail=$(ctl run --rootfs "$ROOTFS" $cg -- cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null) || return 2
    if echo "$avail" | grep -qw hugetlb; then
        ctl create --id cgf --rootfs "$ROOTFS" $cg --hugetlb 2MB:4194304 -- sleep 100 >/dev/null && ctl start --id cgf || return 1
        out=$(ctl exec --id cgf -- cat /sys/fs/cgroup/hugetlb.2MB.max)
        expect_eq "$out" 4194304 "hugetlb.2MB.max" || { ctl destroy --id cgf; return 1; }
        ctl update --id cgf --hugetlb 2MB:-1 || return 1
        out=$(ctl exec --id cgf -- cat /sys/fs/cgroup/hugetlb.2MB.max)
        ctl destroy --id cgf
        expect_eq "$out" max "hugetlb.2MB.max after update" || return 1
        ran=1
    fi
    if echo "$avail" | grep -qw cpu; then
        out=$(ctl run --rootfs "$ROOTFS" $cg --cpu-idle 1 --cpu-burst 1000 -- cat /sys/fs/cgroup/cpu.idle /sys/fs/cgroup/cpu.max.burst) || return 1
        expect_eq "$(echo $out)" "1 1000" "cpu.idle, cpu.max.burst" || return 1
        ran=1
    fi
    if echo "$avail" | grep -qw memory; then
        out=$(ctl run --rootfs "$ROOTFS" $cg --memory -1 -- cat /sys/fs/cgroup/memory.max) || return 1
        expect_eq "$out" max "memory.max of -1" || return 1
        ran=1
    fi
    [ "$ran" = 1 ] || return 2
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
    expect_eq "$out" denied "without no_new_privs (filter loaded before the credentials change)" || return 1
    # two conditions on one argument: one rule each, ORed (runc); libseccomp refuses them in one rule
    out=$(run --seccomp-deny personality --seccomp-arg 0:SCMP_CMP_EQ:0 --seccomp-arg 0:SCMP_CMP_EQ:8 -- \
        sh -c 'echo runs; linux32 true 2>/dev/null || echo no-linux32; linux64 true 2>/dev/null || echo no-linux64' 2>&1) ||
        fail "personality(0) or personality(8): $out" || return 1
    expect_eq "$(echo $out)" "runs no-linux32 no-linux64" "personality(0) or personality(8) denied" || return 1
    # runc's ENOSYS stub: a profile that denies by default answers ENOSYS to a syscall numbered above all it names
    # (a program newer than its profile then falls back: glibc's clone3, faccessat2, fchmodat2), the default
    # errno to one it leaves out below that
    [ -x "$HROOTFS/bin/sysprobe" ] || fail "no sysprobe in the rootfs ($SYSPROBE)" || return 1
    local allow
    allow=$(sed -nE 's/^#define __NR_([a-z0-9_]+) ([0-9]+)$/\1 \2/p' /usr/include/x86_64-linux-gnu/asm/unistd_64.h |
        awk '$2 <= 400 && $1 != "fanotify_init" { print $1 }' | paste -sd, -)
    out=$(run --seccomp-allow "$allow" -- sh -c 'sysprobe 441; sysprobe 300; echo runs' 2>&1) ||
        fail "default-deny profile: $out" || return 1
    expect_eq "$(echo $out)" "ENOSYS EPERM runs" "above the profile's last syscall: ENOSYS"
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

# --- ConfigureNetwork: each test has an agent of its own in a new network namespace (unshare --net), so the
# host's interfaces are never touched and no traffic leaves the machine. ConfigureNetwork succeeds once per
# agent, hence one agent per test. Its "VM's NIC" is eth0x: a dummy interface, or where the kernel has no
# dummy driver a veth pair whose peer (eth0x-p, no addresses) is up, so that eth0x has a carrier as the VM's
# virtio-net interface has. ---
NSOCK= NPID= NUNSHARE=
nip() { nsenter --net="/proc/$NPID/ns/net" ip "$@"; }
nctl() { timeout "${CTL_TIMEOUT:-30}" "$CTL_BIN" "$NSOCK" "$@"; }
net_agent() {
    [ "$VM" = 1 ] && return 2
    NSOCK=$WORK/net-$1.sock
    echo "--- net agent $1" >>"$WORK/net.log"
    unshare --pid --fork --mount-proc --net "$AGENT" --listen "$NSOCK" --share "$SHARE" --cgroup-parent "$CGPARENT-net" \
        ${AGENT_DEBUG:+-v} >>"$WORK/net.log" 2>&1 &
    NUNSHARE=$!
    for _ in $(seq 1 100); do [ -S "$NSOCK" ] && break; sleep 0.05; done
    NPID=$(pgrep -P "$NUNSHARE" | head -1)
    [ -n "$NPID" ] && [ -S "$NSOCK" ] || fail "the network test agent did not start: $(cat "$WORK/net.log")" || return 1
    [ "$(readlink "/proc/$NPID/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
        fail "the network test agent is in the host's network namespace" || return 1
    nip link add eth0x type dummy 2>/dev/null ||
        { nip link add eth0x type veth peer name eth0x-p && nip link set eth0x-p up; } || fail "no test interface" || return 1
}
net_agent_stop() {
    if [ -n "$NPID" ] && kill -0 "$NPID" 2>/dev/null; then
        kill -TERM "$NPID"
        for _ in $(seq 1 50); do kill -0 "$NPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NPID" 2>/dev/null
    fi
    [ -n "$NUNSHARE" ] && wait "$NUNSHARE" 2>/dev/null
    NPID= NUNSHARE=
    return 0
}
# is_up DEV: the interface's flags include UP
is_up() { nip -o link show dev "$1" | grep -Eq '<([^>]*,)?UP[,>]'; }
# link DEV: `ip -o link` of DEV without its qdisc (noop until the interface was first up, then noqueue)
link() { nip -o link show dev "$1" | sed 's/ qdisc [^ ]* / /'; }
# the configuration of the brief: a pod's eth0 as CNI's bridge plugin leaves it, IPv4 and IPv6
NET_CONF="--if eth0x,name=eth0,mac=02:42:0a:58:00:05,mtu=1400,addr=10.88.0.5/16,addr=fd00::5/64
  --route default,via=10.88.0.1 --route 10.99.0.0/24,dev=eth0"

t_net_configure() {
    net_agent conf || return $?
    local link addrs routes routes6 bad=0 want
    # extra routes: a metric and a preferred source, an IPv6 default whose family comes from its gateway
    nctl net $NET_CONF --route 10.77.0.0/16,via=10.88.0.254,src=10.88.0.5,metric=50 --route default,via=fd00::1 \
        2>"$WORK/err" || { fail "configure: $(cat "$WORK/err")"; net_agent_stop; return 1; }
    link=$(nip -o link show dev eth0); addrs=$(nip -o addr show dev eth0)
    routes=$(nip route); routes6=$(nip -6 route)
    is_up eth0 || fail "eth0 is not up: $link" || bad=1
    echo "$link" | grep -q ' mtu 1400 ' || fail "mtu: $link" || bad=1
    echo "$link" | grep -q 'link/ether 02:42:0a:58:00:05 ' || fail "mac: $link" || bad=1
    nip link show dev eth0x >/dev/null 2>&1 && { fail "eth0x is still there"; bad=1; }
    is_up lo || fail "lo is not up: $(nip -o link show dev lo)" || bad=1
    echo "$addrs" | grep -q 'inet 10.88.0.5/16 brd 10.88.255.255 scope global eth0' || fail "IPv4 address: $addrs" || bad=1
    echo "$addrs" | grep 'inet6 fd00::5/64 scope global' | grep -qv tentative || fail "IPv6 address: $addrs" || bad=1
    for want in 'default via 10.88.0.1 dev eth0 proto static' \
                '10.77.0.0/16 via 10.88.0.254 dev eth0 proto static src 10.88.0.5 metric 50' \
                '10.88.0.0/16 dev eth0 proto kernel scope link src 10.88.0.5' \
                '10.99.0.0/24 dev eth0 proto static scope link'; do
        echo "$routes" | grep -qx "$want *" || fail "no route \`$want\` in: $routes" || bad=1
    done
    echo "$routes6" | grep -q '^fd00::/64 dev eth0 proto kernel ' || fail "IPv6 prefix route: $routes6" || bad=1
    echo "$routes6" | grep -q '^default via fd00::1 dev eth0 proto static ' || fail "IPv6 default route: $routes6" || bad=1
    # once only
    nctl net --if eth0,addr=10.88.0.6/16 2>"$WORK/err"
    grep -q 'code 9: the network is configured already$' "$WORK/err" || fail "second call: $(cat "$WORK/err")" || bad=1
    nip -o addr show dev eth0 | grep -q 10.88.0.6 && { fail "the second call changed eth0"; bad=1; }
    net_agent_stop
    return $bad
}

# net_err CODE MESSAGE ARGS...: `agentctl net ARGS` fails with that code and message
net_err() {
    local code=$1 msg=$2; shift 2
    nctl net "$@" 2>"$WORK/err" && { fail "accepted: $*"; return 1; }
    grep -qF "code $code: $msg" "$WORK/err" || fail "$*: $(cat "$WORK/err")"
}

# Malformed requests are refused before anything is touched: INVALID_ARGUMENT naming the field, NOT_FOUND
# for an interface the VM does not have; the one successful call is not used up.
t_net_invalid() {
    net_agent inv || return $?
    local before bad=0
    before=$(link eth0x)
    net_err 5 'network interface `nosuch0` does not exist in the VM' --if nosuch0,addr=10.1.0.1/24 || bad=1
    net_err 3 'interfaces[0].addresses[1]: `10.0.0.300/24` is not an IP address with a prefix length' \
        --if eth0x,name=eth0,addr=10.88.0.5/16,addr=10.0.0.300/24 || bad=1
    net_err 3 'interfaces[0].addresses[0]: `10.0.0.3` is not an IP address with a prefix length' --if eth0x,addr=10.0.0.3 || bad=1
    net_err 3 'interfaces[0].addresses[0]: `fd00::5/129` is not an IP address with a prefix length' --if eth0x,addr=fd00::5/129 || bad=1
    net_err 3 'interfaces[0].mac: `02:42:zz:58:00:05` is not a MAC address' --if eth0x,mac=02:42:zz:58:00:05 || bad=1
    net_err 3 'interfaces[0].mac: `01:00:5e:00:00:01` is not a unicast MAC address' --if eth0x,mac=01:00:5e:00:00:01 || bad=1
    net_err 3 'interfaces[0].guest_name is required' --if ,addr=10.1.0.1/24 || bad=1
    net_err 3 'interfaces[0].name: `a/b` is not an interface name' --if eth0x,name=a/b || bad=1
    net_err 3 'interfaces[1].guest_name: `eth0x` is configured twice' --if eth0x --if eth0x || bad=1
    net_err 3 'routes[0].destination: `10.99.0.1/24` has bits set past its prefix length' --if eth0x --route 10.99.0.1/24,dev=eth0x || bad=1
    net_err 3 'routes[0].destination: `nowhere` is neither an IP address with a prefix length nor `default`' --route nowhere,dev=eth0x || bad=1
    net_err 3 "routes[0].gateway: \`fd00::1\` is not of the destination's family" --route 10.99.0.0/24,via=fd00::1 || bad=1
    net_err 3 'routes[0].gateway: `10.88.0.1.1` is not an IP address' --route default,via=10.88.0.1.1 || bad=1
    net_err 3 'routes[1]: `10.99.0.0/24` needs a gateway or a device' --route default,via=10.88.0.1 --route 10.99.0.0/24 || bad=1
    net_err 5 'routes[0].device: network interface `eth0x` does not exist in the VM' --if eth0x,name=eth0 --route 10.99.0.0/24,dev=eth0x || bad=1
    # nothing changed, and a valid request still succeeds
    expect_eq "$(link eth0x)" "$before" "eth0x after the refused calls" || bad=1
    nip -o addr show dev eth0x | grep -q inet && { fail "addresses on eth0x: $(nip -o addr show dev eth0x)"; bad=1; }
    nctl net --if eth0x,addr=10.88.0.5/16 2>"$WORK/err" || fail "valid call after the refused ones: $(cat "$WORK/err")" || bad=1
    net_agent_stop
    return $bad
}

# A step the kernel refuses: the error names the step, carries the errno with op "netlink", and the steps
# done are undone (the interface left down with its old name, MTU, MAC, no addresses), so a retry succeeds.
t_net_netlink_errors() {
    net_agent nle || return $?
    local before bad=0
    before=$(link eth0x)
    is_up eth0x && { fail "eth0x is up from the start"; net_agent_stop; return 1; }
    nctl net --if eth0x,name=eth0,mac=02:42:0a:58:00:05,mtu=1400,addr=10.88.0.5/16,addr=fd00::5/64 \
        --route default,via=192.168.77.1 2>"$WORK/err"
    grep -q 'code 2: add route default via 192.168.77.1: Network is unreachable.* (errno 101, op netlink)$' "$WORK/err" ||
        fail "unreachable gateway: $(cat "$WORK/err")" || bad=1
    nip link show dev eth0 >/dev/null 2>&1 && { fail "eth0 left behind: $(nip -o link show dev eth0)"; bad=1; }
    is_up eth0x && { fail "eth0x left up: $(nip -o link show dev eth0x)"; bad=1; }
    expect_eq "$(link eth0x)" "$before" "eth0x after the undo" || bad=1
    nip -o addr show dev eth0x | grep -q 'inet' && { fail "addresses left: $(nip -o addr show dev eth0x)"; bad=1; }
    # an address that is there already
    nip addr add 10.88.0.5/16 dev eth0x || bad=1
    nctl net $NET_CONF 2>"$WORK/err"
    grep -q 'code 2: add address 10.88.0.5/16 to eth0: File exists (errno 17, op netlink)$' "$WORK/err" ||
        fail "existing address: $(cat "$WORK/err")" || bad=1
    is_up eth0x && { fail "eth0x left up"; bad=1; }
    nip -o addr show dev eth0x | grep -q 'inet 10.88.0.5/16' || fail "the address that was there is gone" || bad=1
    nip addr del 10.88.0.5/16 dev eth0x || bad=1
    # retried right, it succeeds
    nctl net $NET_CONF 2>"$WORK/err" || fail "retry: $(cat "$WORK/err")" || bad=1
    is_up eth0 || fail "eth0 not up after the retry" || bad=1
    nip route | grep -q '^default via 10.88.0.1 dev eth0 proto static' || fail "routes after the retry: $(nip route)" || bad=1
    nctl net $NET_CONF 2>"$WORK/err"
    grep -q 'code 9: the network is configured already$' "$WORK/err" || fail "after the retry: $(cat "$WORK/err")" || bad=1
    net_agent_stop
    return $bad
}

# --- port forwarding (OpenPort, PortRead, PortWrite, PortClose): the servers are busybox `nc -ll` in containers,
# which share the agent's network namespace (a VM's; in test mode this host's) as a pod's containers share the VM's ---

# free_port: a TCP port nothing listens on here (in a VM, whose namespace is fresh, any is free)
free_port() {
    local p
    while :; do
        p=$(( 20000 + RANDOM % 30000 ))
        grep -q ":$(printf %04X "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return; }
    done
}
# port_server ID PORT CMD...: container ID listens on PORT and runs CMD for each connection, the socket as its stdio
port_server() {
    local id=$1 port=$2; shift 2
    ctl create --id "$id" --rootfs "$ROOTFS" -- nc -ll -p "$port" -e "$@" >/dev/null && ctl start --id "$id" ||
        fail "server $id" || return 1
    ctl exec --id "$id" -- sh -c "for i in \$(seq 100); do
        grep -Eq ':$(printf %04X "$port") [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6 && exit 0; sleep 0.05; done; exit 1" ||
        fail "nothing listens on port $port in container $id"
}
# fds_settle N: the agent's descriptor count, once it is N (it closes a client's socket a moment after the client)
fds_settle() {
    local i
    for i in $(seq 40); do [ "$(fds)" = "$1" ] && break; sleep 0.05; done
    fds
}

# Byte-exact round trips through an echo server (one byte to 3 MB, more than one PortRead holds), and through one
# that starts reading late; the half-close (a server that answers once it has read to the end); a server that
# closes first; the connection's socket close-on-exec, and no descriptor left behind.
t_port_echo() {
    local p q b size out bad=0 fds0 t0 t1 fd flags n
    [ "$VM" = 0 ] && fds0=$(fds)
    p=$(free_port)
    port_server pfecho "$p" cat || bad=1
    for size in 1 5000 1048576 3000000; do
        [ "$bad" = 0 ] || break
        head -c "$size" /dev/urandom >"$WORK/port.in"
        ctl port "$p" <"$WORK/port.in" >"$WORK/port.out" 2>"$WORK/err" || fail "$size bytes: $(cat "$WORK/err")" || bad=1
        cmp -s "$WORK/port.in" "$WORK/port.out" || fail "$size bytes sent, $(wc -c <"$WORK/port.out") different ones back" || bad=1
    done
    if [ "$VM" = 0 ] && [ "$bad" = 0 ]; then
        # the agent's end of a connection held open for a second: its socket (found by inode) is close-on-exec
        local bg inode=
        ctl port "$p" < <(sleep 1) >/dev/null &
        bg=$!
        for _ in $(seq 40); do
            inode=$(awk -v rem=":$(printf %04X "$p")\$" '$3 ~ rem && $4 == "01" {print $10}' /proc/net/tcp)
            [ -n "$inode" ] && break; sleep 0.025
        done
        n=0
        for fd in $(ls "/proc/$AGENT_PID/fd"); do
            [ "$(readlink "/proc/$AGENT_PID/fd/$fd")" = "socket:[$inode]" ] || continue
            n=$((n + 1))
            flags=$(awk '/^flags:/ {print $2}' "/proc/$AGENT_PID/fdinfo/$fd")
            [ $(( 8#$flags & 8#2000000 )) != 0 ] || fail "the connection's socket (descriptor $fd) is not close-on-exec" || bad=1
        done
        wait "$bg" || fail "a connection kept open for a second failed" || bad=1
        expect_eq "$n" 1 "descriptors of the agent on the connection's socket (inode ${inode:-none})" || bad=1
    fi
    # a server that starts reading late: PortWrite waits for the socket to drain, while a PortRead is pending
    q=$(free_port)
    port_server pfslow "$q" sh -c 'sleep 0.5; exec cat' || bad=1
    head -c 8000000 /dev/urandom >"$WORK/port.in"
    ctl port "$q" <"$WORK/port.in" >"$WORK/port.out" 2>"$WORK/err" || fail "slow reader: $(cat "$WORK/err")" || bad=1
    cmp -s "$WORK/port.in" "$WORK/port.out" || fail "slow reader: 8000000 bytes sent, $(wc -c <"$WORK/port.out") different ones back" || bad=1
    q=$(free_port)
    port_server pfwc "$q" wc -c || bad=1
    out=$(printf 'twelve bytes' | ctl port "$q" 2>"$WORK/err") || fail "half-close: $(cat "$WORK/err")" || bad=1
    expect_eq "$(echo $out)" 12 "what wc -c counted through the port" || bad=1
    b=$(free_port)
    port_server pfbanner "$b" echo banner || bad=1
    t0=$(now_ms)
    out=$(ctl port "$b" < <(sleep 3) 2>"$WORK/err") || fail "banner: $(cat "$WORK/err")" || bad=1
    t1=$(now_ms)
    expect_eq "$out" banner "what a server that closes first said" || bad=1
    [ $((t1 - t0)) -lt 2500 ] || fail "the server's end of file took $((t1 - t0)) ms to arrive" || bad=1
    ctl destroy --id pfecho; ctl destroy --id pfslow; ctl destroy --id pfwc; ctl destroy --id pfbanner
    [ "$VM" = 0 ] && { expect_eq "$(fds_settle "$fds0")" "$fds0" "descriptors of the agent after the connections" || bad=1; }
    return $bad
}

# The errors of the contract: refused (UNAVAILABLE with the errno), ports outside 1..65535, a second PortRead, what
# PortClose answers to the calls pending, calls on a closed connection, a write after close_write, ids never
# reused, a connection the server resets.
t_port_errors() {
    local p q bad=0 id id2 want ok unav other
    p=$(free_port)
    ctl port "$p" </dev/null >/dev/null 2>"$WORK/err" && { fail "connected to port $p, where nothing listens"; bad=1; }
    grep -qF "code 14: connect to 127.0.0.1:$p: Connection refused (errno 111, op connect)" "$WORK/err" ||
        fail "refused: $(cat "$WORK/err")" || bad=1
    for p in 0 70000; do
        ctl port "$p" </dev/null >/dev/null 2>"$WORK/err" && { fail "port $p accepted"; bad=1; }
        grep -qF "code 3: port $p is not in 1..65535" "$WORK/err" || fail "port $p: $(cat "$WORK/err")" || bad=1
    done
    q=$(free_port)
    port_server pfsilent "$q" sleep 60 || { ctl destroy --id pfsilent; return 1; }
    ctl portcheck "$q" >"$WORK/out" 2>"$WORK/err" || fail "portcheck: $(cat "$WORK/err")" || bad=1
    read -r id id2 <<<"$(sed -n 's/^ids: //p' "$WORK/out")"
    [ -n "$id" ] && [ -n "$id2" ] && [ "$id2" -gt "$id" ] || fail "ids not increasing: $(grep ids "$WORK/out")" || bad=1
    for want in "second read: code 9: port connection $id has a PortRead pending already" \
                "close: ok" \
                "first read: eof=1 bytes=0" \
                "read after close: code 5: port connection $id does not exist" \
                "write after close: code 5: port connection $id does not exist" \
                "close after close: code 5: port connection $id does not exist" \
                "close_write: ok" \
                "write after close_write: code 9: the write side of port connection $id2 is shut"; do
        grep -qxF "$want" "$WORK/out" || fail "no \`$want\` in: $(cat "$WORK/out")" || bad=1
    done
    # 24 MiB to a server that reads nothing: the socket buffers take some, the writes still pending when the
    # connection is closed are answered UNAVAILABLE
    read -r ok unav other <<<"$(sed -n 's/^writes: ok=\([0-9]*\) unavailable=\([0-9]*\) other=\([0-9]*\) of 12$/\1 \2 \3/p' "$WORK/out")"
    [ -n "$ok" ] && [ "$unav" -ge 1 ] && [ "$other" = 0 ] && [ $((ok + unav)) = 12 ] ||
        fail "pending writes at the close: $(grep writes "$WORK/out")" || bad=1
    ctl destroy --id pfsilent
    # the server exits without reading what was sent: its kernel resets the connection
    p=$(free_port)
    port_server pfreset "$p" sleep 0.3 || bad=1
    printf x | ctl port "$p" >/dev/null 2>"$WORK/err" && { fail "a reset connection read as a clean end"; bad=1; }
    grep -q "code 14: read from 127.0.0.1:$p (port connection [0-9]*): Connection reset by peer (errno 104, op read)$" "$WORK/err" ||
        fail "reset: $(cat "$WORK/err")" || bad=1
    ctl destroy --id pfreset
    return $bad
}

# The connect deadline (5 s) and the limit of 256 connections, against listeners that never accept: a python
# script on this host, so test mode only. A Hello closes every connection of the session.
t_port_limits() {
    [ "$VM" = 1 ] && return 2
    command -v python3 >/dev/null || return 2
    local full wide pid t0 t1 rc bad=0 fds0 want
    fds0=$(fds)
    python3 -c '
import socket, time
full = socket.socket(); full.bind(("127.0.0.1", 0)); full.listen(0)
queued = socket.create_connection(full.getsockname())  # fills the accept queue: later SYNs are dropped
wide = socket.socket(); wide.bind(("127.0.0.1", 0)); wide.listen(1024)
print(full.getsockname()[1], wide.getsockname()[1], flush=True)
time.sleep(60)' >"$WORK/listeners" &
    pid=$!
    for _ in $(seq 100); do [ -s "$WORK/listeners" ] && break; sleep 0.05; done
    read -r full wide <"$WORK/listeners"
    [ -n "$wide" ] || { fail "no listeners"; kill "$pid"; return 1; }
    t0=$(now_ms)
    ctl port "$full" </dev/null >/dev/null 2>"$WORK/err"; rc=$?
    t1=$(now_ms)
    [ "$rc" != 0 ] && grep -qF "code 4: connect to 127.0.0.1:$full: not connected after 5000 ms" "$WORK/err" ||
        fail "deadline: rc $rc: $(cat "$WORK/err")" || bad=1
    [ $((t1 - t0)) -ge 4900 ] && [ $((t1 - t0)) -lt 7000 ] || fail "the deadline came after $((t1 - t0)) ms" || bad=1
    ctl portlimit "$wide" 300 >"$WORK/out" 2>"$WORK/err" || fail "portlimit: $(cat "$WORK/err")" || bad=1
    for want in "opened 256" \
                "next open: code 8: cannot connect to 127.0.0.1:$wide: 256 port connections are open already" \
                "close one: ok" \
                "open after a close: ok"; do
        grep -qxF "$want" "$WORK/out" || fail "no \`$want\` in: $(cat "$WORK/out")" || bad=1
    done
    grep -qx "close after a hello: code 5: port connection [0-9]* does not exist" "$WORK/out" ||
        fail "a connection survived a Hello: $(cat "$WORK/out")" || bad=1
    expect_eq "$(fds_settle "$fds0")" "$fds0" "descriptors of the agent after 257 connections" || bad=1
    kill "$pid"; wait "$pid" 2>/dev/null
    return $bad
}

t_no_fd_leak() {
    # runs last: every container is destroyed by now, so the agent has only its own descriptors
    [ "$VM" = 1 ] && return 2
    sleep 0.2
    expect_eq "$(fds)" "$FDS_AT_START" "open descriptors of the agent" || return 1
    # what the device program cache keeps: at most 4 programs, one descriptor each
    local progs; progs=$(prog_fds)
    [ "$(echo "$progs" | grep -c .)" -le 4 ] || fail "device program descriptors: $(echo $progs)" || return 1
    expect_eq "$(echo "$progs" | sort | uniq -d)" "" "device programs held twice"
}

ALL_TESTS="hello set_clock echo_and_exit_code stderr_separate exit_table signal_exit_codes signal_process kill_all
missing_binary not_executable concurrent_execs bulk_output output_after_exit stdin_eof pty_size_and_resize
pty_stdin exec_pty_is_the_containers cwd_env_user path_skip caps_and_nnp caps_absent delete_process exec_while_parked
namespaces_and_mounts
join_ipc_uts join_pid kill_all_on_init_exit join_errors readonly_rootfs bind_mount
share_written_at_exit user_namespace time_namespace sched_ioprio_personality devices recursive_mount_attrs rootfs_propagation sysctl
device_cgroup cgroup_files errors pause_resume_stats seccomp oom update_resources protocol_abuse
containers_survive_reconnect pending_calls_across_reconnect net_configure net_invalid net_netlink_errors
port_echo port_errors port_limits no_fd_leak"

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
