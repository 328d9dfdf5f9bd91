#!/usr/bin/env bash
# make images: every docker/<name>.Dockerfile built as prism/<name>:latest (FROM scratch) from dist/.
#   scripts/images.sh [NAME...]        (default: every Dockerfile whose executable is built)
# Each build is sent only what its Dockerfile copies (the executable, the staged glibc files, docker/etc),
# not all of dist/: a tar stream as the build context. The legacy builder is used because Debian's docker.io
# has no buildx; the images are the same.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
docker info >/dev/null 2>&1 || { echo "images: no Docker engine answers (make docker-engine starts one)" >&2; exit 1; }
bash docker/stage-glibc.sh >/dev/null
names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  for f in docker/*.Dockerfile; do names+=("$(basename "$f" .Dockerfile)"); done
fi
start=$(date +%s)
for name in "${names[@]}"; do
  [ -x "dist/$name" ] || { echo "images: dist/$name is missing (make build-plugins)" >&2; exit 1; }
  t0=$(date +%s)
  log="$(mktemp)"
  if ! tar -c dist/glibc docker/etc "dist/$name" "docker/$name.Dockerfile" |
    DOCKER_BUILDKIT=0 docker build -f "docker/$name.Dockerfile" -t "prism/$name:latest" - >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "images: building prism/$name:latest failed" >&2
    exit 1
  fi
  rm -f "$log"
  echo "images: prism/$name:latest ($(docker image inspect -f '{{.Size}}' "prism/$name:latest" | awk '{printf "%.1f MB", $1/1e6}'), $(( $(date +%s) - t0 )) s)"
done
echo "images: ${#names[@]} built in $(( $(date +%s) - start )) s"
