#!/usr/bin/env bash
# Builds dist/proxy, dist/memstore and dist/prism-load as of a git commit into DIR/dist,
# so levers.ts can compare builds side by side in one run:
#   bash tests/proxy/bench/build_at.sh COMMIT DIR
set -euo pipefail
commit=$1
dir=$2
root=$(cd "$(dirname "$0")/../../.." && pwd)
rm -rf "$dir"
mkdir -p "$dir"
git -C "$root" archive "$commit" | tar -x -C "$dir"
ln -s "$root/node_modules" "$dir/node_modules"
cp -r "$root/proto/gen" "$dir/proto/gen"
cd "$dir"
"$root/node_modules/.bin/bun" scripts/build.ts memstore=memstore/main.ts proxy=proxy/main.ts prism-load=loadtest/main.ts >/dev/null
echo "$dir/dist"
