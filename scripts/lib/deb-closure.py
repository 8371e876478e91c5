#!/usr/bin/env python3
"""Prints the Go source packages (golang-*-dev and the like) that a Debian package needs, from an uncompressed
Packages index: the package itself and, transitively, every dependency whose name starts with "golang-",
the Go toolchain aside (the first alternative of an "a | b" dependency; virtual names through Provides).
One line per package: NAME VERSION FILENAME SHA256. Used by scripts/lib/forky-go.sh to build containerd's tests
against Debian's packaged Go sources without installing them.

  deb-closure.py PACKAGES_FILE PACKAGE...
"""
import re, sys

TOOLCHAIN = re.compile(r"golang-(go|src|any|doc|\d[\d.]*-(go|src|doc))$")


def stanzas(path):
    cur = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if cur:
                    yield cur
                cur = {}
            elif line[0] not in " \t":
                k, _, v = line.partition(": ")
                cur[k] = v
    if cur:
        yield cur


def main(path, roots):
    pkgs, provides = {}, {}
    for s in stanzas(path):
        pkgs.setdefault(s["Package"], s)
    for name, s in pkgs.items():
        for p in s.get("Provides", "").split(","):
            p = p.strip().split(" ")[0]
            if p:
                provides.setdefault(p, name)
    seen, todo, missing = set(), list(roots), []
    while todo:
        name = todo.pop()
        name = name if name in pkgs else provides.get(name, name)
        if name in seen:
            continue
        if name not in pkgs:
            missing.append(name)
            continue
        seen.add(name)
        for alternatives in pkgs[name].get("Depends", "").split(","):
            dep = alternatives.split("|")[0].strip().split(" ")[0].split(":")[0]
            if dep.startswith("golang-") and not TOOLCHAIN.match(dep):
                todo.append(dep)
    if missing:
        print("deb-closure: not in the index: " + " ".join(sorted(set(missing))), file=sys.stderr)
    for name in sorted(seen):
        s = pkgs[name]
        print(name, s["Version"], s["Filename"], s["SHA256"])


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
