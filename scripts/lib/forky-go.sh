# shellcheck shell=bash
# containerd 2.1's own tests, built from Debian testing's (forky's) packaged Go sources: the package
# golang-github-containerd-containerd-dev and every golang-* package it needs, and the Go 1.26 toolchain,
# fetched and unpacked (not installed) into a scratch directory for the build, then removed; only the test
# binary stays. Nothing of containerd's is kept in this repository. Source after common.sh.
#   forky_go_test PACKAGE VERSION OUT SCRATCH
#     PACKAGE  the Go package to build with `go test -c` (github.com/containerd/containerd/v2/integration)
#     VERSION  the containerd version the sources must be (scripts/fetch-containerd 2.1's VERSION file)
#     OUT      the test binary
#     SCRATCH  a directory for the packages and the build, removed after
forky_go_test() {
  local pkg=$1 version=$2 out tmp
  out="$(realpath -m "$3")" tmp="$(realpath -m "$4")"
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
  [ -d "$gopath/src/$pkg" ] || die "Debian $suite's containerd sources have no $pkg"
  say "building $pkg's tests (containerd $version)"
  (cd "$gopath/src/$pkg" &&
    PATH="$tmp/root/usr/lib/go-1.26/bin:$PATH" GOROOT="$tmp/root/usr/lib/go-1.26" GOTOOLCHAIN=local \
      GO111MODULE=off GOPATH="$gopath" GOFLAGS= GOCACHE="$tmp/gocache" \
      timeout 1800 go test -c -o "$out.part" .) || die "building $pkg's tests failed"
  mv "$out.part" "$out"
  rm -rf "$tmp"
}
