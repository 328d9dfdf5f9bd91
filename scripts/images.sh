#!/usr/bin/env bash
# make images: each executable's FROM scratch image as <image>:latest (prism/<name>), from dist/.
#   scripts/images.sh [NAME...]        (default: every executable of scripts/executables.ts)
# The Dockerfiles are generated first (scripts/dockerfiles.ts -> dist/docker/<name>.Dockerfile) from one template
# and the executables list (each pattern's pattern.json), so a new pattern gets its image with no edit here.
# Each build is sent only what its Dockerfile copies (the executable, the staged glibc files, docker/etc),
# not all of dist/: a tar stream as the build context. The legacy builder is used because Debian's docker.io
# has no buildx; the images are the same.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
docker info >/dev/null 2>&1 || { echo "images: no Docker engine answers (make docker-engine starts one)" >&2; exit 1; }
bash docker/stage-glibc.sh >/dev/null
generated="$(node_modules/.bin/bun scripts/dockerfiles.ts --outdir dist/docker "$@")"
start=$(date +%s)
count=0
while read -r name image dockerfile <&3; do
  [ -x "dist/$name" ] || { echo "images: dist/$name is missing (make build-plugins)" >&2; exit 1; }
  t0=$(date +%s)
  log="$(mktemp)"
  if ! tar -c dist/glibc docker/etc "dist/$name" "$dockerfile" |
    DOCKER_BUILDKIT=0 docker build -f "$dockerfile" -t "$image:latest" - >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "images: building $image:latest failed" >&2
    exit 1
  fi
  rm -f "$log"
  count=$((count + 1))
  echo "images: $image:latest ($(docker image inspect -f '{{.Size}}' "$image:latest" | awk '{printf "%.1f MB", $1/1e6}'), $(( $(date +%s) - t0 )) s)"
done 3<<<"$generated"
echo "images: $count built in $(( $(date +%s) - start )) s"
