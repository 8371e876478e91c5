# shellcheck shell=bash
# Helpers shared by the scripts in scripts/. Source it; it sets -euo pipefail.
set -euo pipefail

A3S_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export A3S_ROOT

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# find_jdk: prints the home of a JDK >= 25 (JAVA_HOME first, then /usr/lib/jvm/*25*), or fails clearly.
find_jdk() {
  local candidate ver
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    ver="$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
    if [ -n "$ver" ] && [ "$ver" -ge 25 ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  die "no JDK >= 25 found: set JAVA_HOME to one, or install one under /usr/lib/jvm (a3s-box needs Java 25: FFM, virtual threads)"
}

# ensure_packages PKG...: installs the Debian packages that are missing; silent when none is.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_install "${missing[*]}" "${missing[@]}"
}

# apt_install WHAT ARG...: apt-get update, then apt-get install ARG... (packages, and options such as -t
# SUITE), retried while another apt run holds the lock; WHAT names the packages in messages.
apt_install() {
  local what="$1"
  shift
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages ($what); run scripts/setup as root"
  say "installing Debian packages: $what"
  # another apt run (unattended upgrades, a parallel setup) may hold the lock for a while
  local i
  for i in $(seq 1 60); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null &&
       DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
         --no-install-recommends "$@" >/dev/null; then
      return 0
    fi
    say "apt-get failed (attempt $i), retrying in 5 s"
    sleep 5
  done
  die "could not install: $what"
}

# The oldest QEMU a3s-box runs on. Debian 12's own, 7.2, serves 9p with a fix for CVE-2023-2861 that breaks
# mknod of a FIFO or a socket: it makes the node on the host, refuses to chmod a special file, and removes it
# (the guest sees ENXIO: no `mkfifo`, no Unix socket under /run or in a volume). 10.0 makes them.
A3S_QEMU_MIN="1:10.0"

# ensure_qemu: QEMU >= A3S_QEMU_MIN, from Debian's own bookworm-backports on Debian 12 (its main suite has 7.2),
# from the distribution's main suite elsewhere. Silent when it is there.
ensure_qemu() {
  local have codename=""
  have="$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)"
  if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$A3S_QEMU_MIN"; then
    return 0
  fi
  [ -r /etc/os-release ] && codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
  if [ "$codename" = bookworm ]; then
    [ "$(id -u)" -eq 0 ] || die "QEMU ${have:-missing} is older than $A3S_QEMU_MIN; run scripts/setup as root"
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      say "adding Debian's bookworm-backports to apt's sources, for QEMU >= $A3S_QEMU_MIN"
      printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
        > /etc/apt/sources.list.d/a3s-bookworm-backports.sources
    fi
    apt_install "qemu-system-x86 (bookworm-backports)" -t bookworm-backports qemu-system-x86
  else
    apt_install qemu-system-x86 qemu-system-x86
  fi
  have="$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)"
  dpkg --compare-versions "${have:-0}" ge "$A3S_QEMU_MIN" ||
    die "QEMU ${have:-missing} is installed, a3s-box needs $A3S_QEMU_MIN or newer (9p special files, docs/vm.md)"
}

# mvn_run ARGS...: Maven with the project's JDK, quiet, and without JDK 25's Unsafe warnings from Maven itself.
mvn_run() {
  JAVA_HOME="$A3S_JAVA_HOME" MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
    mvn -B -q -Dstyle.color=never -f "$A3S_ROOT/pom.xml" "$@"
}
