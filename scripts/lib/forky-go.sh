# shellcheck shell=bash
# containerd 2.1's own tests, built from Debian testing's (forky's) packaged Go sources: the package
# golang-github-containerd-containerd-dev and every golang-* package it needs, and the Go 1.26 toolchain,
# fetched and unpacked (not installed) into a scratch directory for the build, then removed; only the test
# binaries stay. Nothing of containerd's is kept in this repository. Source after common.sh.
#   forky_tests_dir VERSION
#     Prints build/containerd-tests-VERSION, where the test binaries of that containerd version are.
#   forky_containerd_tests VERSION
#     Sets FORKY_TESTS to forky_tests_dir's directory, where it builds, if either is missing, both test
#     binaries the suites run: integration.test (the CRI tests, integration/) and client.test
#     (integration/client), from one download (about 300 MB of packages). VERSION is the containerd version the
#     sources must be (scripts/fetch-containerd 2.1's VERSION file).
forky_tests_dir() {
  printf '%s\n' "$A3S_ROOT/build/containerd-tests-$1"
}

forky_containerd_tests() {
  local version=$1
  FORKY_TESTS="$(forky_tests_dir "$version")"
  [ -x "$FORKY_TESTS/integration.test" ] && [ -x "$FORKY_TESTS/client.test" ] && return 0
  local tmp="$FORKY_TESTS/scratch"
  local mirror=http://deb.debian.org/debian suite=forky go_pkgs="golang-1.26-go golang-1.26-src" dev_version gopath
  ensure_packages python3 curl xz-utils
  rm -rf "$tmp"
  mkdir -p "$tmp/debs" "$tmp/root"
  say "looking up containerd's Go sources in Debian $suite"
  curl -fsS --retry 3 --connect-timeout 20 --max-time 300 "$mirror/dists/$suite/main/binary-amd64/Packages.xz" \
    | xz -dc >"$tmp/Packages" || die "cannot fetch Debian $suite's package index"
  python3 "$A3S_ROOT/scripts/lib/deb-closure.py" "$tmp/Packages" golang-github-containerd-containerd-dev \
    >"$tmp/sources.txt"
  # shellcheck disable=SC2086 # a list of package names
  python3 "$A3S_ROOT/scripts/lib/deb-closure.py" "$tmp/Packages" $go_pkgs >"$tmp/go.txt"
  grep -q "^golang-1.26-go " "$tmp/go.txt" || die "Debian $suite no longer has golang-1.26: update scripts/lib/forky-go.sh"
  dev_version="$(awk '$1 == "golang-github-containerd-containerd-dev" {print $2}' "$tmp/sources.txt")"
  [ "$dev_version" = "$version" ] ||
    die "Debian $suite's containerd sources ($dev_version) are not its containerd ($version): run scripts/fetch-containerd 2.1 again"
  cat "$tmp/sources.txt" "$tmp/go.txt" | awk '$1 ~ /^golang-1\.26-/ || $1 !~ /^golang-1\.[0-9]+-/' \
    | sort -u >"$tmp/all.txt"
  say "fetching $(wc -l <"$tmp/all.txt") Debian packages (Go 1.26 and containerd $version's sources)"
  awk '{print $3}' "$tmp/all.txt" | xargs -P 6 -I{} sh -c \
    'curl -fsS --retry 3 --connect-timeout 20 --max-time 900 -o "$1/debs/$(basename "$2")" "$3/$2" ||
       { echo "cannot fetch $3/$2" >&2; exit 1; }' \
    sh "$tmp" {} "$mirror" || die "fetching Debian $suite's packages failed (above: which)"
  awk -v d="$tmp/debs" '{n = split($3, p, "/"); print $4 "  " d "/" p[n]}' "$tmp/all.txt" | sha256sum -c --quiet \
    || die "a package's checksum does not match Debian's index"
  local deb
  for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  gopath="$tmp/root/usr/share/gocode"
  local pkg out
  for pkg in integration integration/client; do
    out="$FORKY_TESTS/$(basename "$pkg").test"
    [ -x "$out" ] && continue
    say "building containerd $version's tests: $pkg"
    (cd "$gopath/src/github.com/containerd/containerd/v2/$pkg" &&
      PATH="$tmp/root/usr/lib/go-1.26/bin:$PATH" GOROOT="$tmp/root/usr/lib/go-1.26" GOTOOLCHAIN=local \
        GO111MODULE=off GOPATH="$gopath" GOFLAGS= GOCACHE="$tmp/gocache" \
        timeout 1800 go test -c -o "$out.part" .) || die "building containerd's $pkg tests failed"
    mv "$out.part" "$out"
  done
  rm -rf "$tmp"
}
