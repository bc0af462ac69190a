#!/usr/bin/env bash
# Builds the release artefact: shoal-<version>-linux-<arch>-node<major>.tar.gz, a tar of the
# compiled sources (dist/), bin/, proto/, dashboard/, package.json and the production
# node_modules (sqlite3's native addon included, so the target hosts need Node but no compiler).
# The native addon is built for this machine's Node major version and CPU: build the release on a
# machine like the target hosts (same Node major, same architecture, glibc not newer).
#
# Usage: deploy/release.sh [--out DIR]      (default DIR: ./release)
# Prints the path of the tarball on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

out=release
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

[ -d node_modules ] || { echo "release.sh: node_modules is missing; run 'npm ci' first (with npm_config_nodedir=/usr where node-gyp cannot download headers)" >&2; exit 1; }
version=$(node -p "require('./package.json').version")
arch=$(node -p 'process.arch')
major=$(node -p 'process.versions.node.split(".")[0]')
name="shoal-${version}-linux-${arch}-node${major}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/shoal-release.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root"

echo "==> compiling src/ into $name/dist" >&2
npx tsc -p deploy/tsconfig.release.json --outDir "$root/dist"
cp -r bin proto dashboard deploy package.json package-lock.json "$root/"
[ -f LICENSE ] && cp LICENSE "$root/"

echo "==> production node_modules (npm prune --omit=dev, offline)" >&2
# A copy of the installed tree, pruned: no registry access and no second sqlite3 compile.
cp -a node_modules/. "$root/node_modules/"
(cd "$root" && npm prune --omit=dev --offline --no-audit --no-fund >/dev/null)
# The addon must load from the pruned tree (a wrong build fails here, not on the hosts).
(cd "$root" && node -e "require('sqlite3')") || { echo "release.sh: sqlite3 does not load from the pruned node_modules" >&2; exit 1; }
echo "$version" > "$root/VERSION"

tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "==> $(du -h "$out/$name.tar.gz" | cut -f1) $out/$name.tar.gz" >&2
echo "$out/$name.tar.gz"
