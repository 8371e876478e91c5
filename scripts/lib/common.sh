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
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run scripts/setup as root"
  say "installing Debian packages: ${missing[*]}"
  # another apt run (unattended upgrades, a parallel setup) may hold the lock for a while
  local i
  for i in $(seq 1 60); do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null &&
       DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
         --no-install-recommends "${missing[@]}" >/dev/null; then
      return 0
    fi
    say "apt-get failed (attempt $i), retrying in 5 s"
    sleep 5
  done
  die "could not install: ${missing[*]}"
}

# mvn_run ARGS...: Maven with the project's JDK, quiet, and without JDK 25's Unsafe warnings from Maven itself.
mvn_run() {
  JAVA_HOME="$A3S_JAVA_HOME" MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" \
    mvn -B -q -Dstyle.color=never -f "$A3S_ROOT/pom.xml" "$@"
}
