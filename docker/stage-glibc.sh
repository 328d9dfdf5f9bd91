#!/usr/bin/env bash
# Stages the glibc files an executable needs (as ldd lists them: libc, libpthread,
# libdl, libm and the loader) under dist/glibc/<their path>, where the
# generated Dockerfiles (scripts/dockerfiles.ts) COPY them from. `make images` and
# tests/packaging/scratch_image.test.ts run it; x86_64 Debian paths.
# Usage: docker/stage-glibc.sh [EXECUTABLE]   (default dist/memstore)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exe="${1:-dist/memstore}"
out=dist/glibc
[ -x "$exe" ] || { echo "stage-glibc: $exe is missing: run make build-plugins" >&2; exit 1; }
rm -rf "$out"
# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | while read -r lib; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib" # the file itself, not the symlink the loader path often is
  echo "$lib"
done
