# prism prism-load: the load generator; run it with --proxy HOST:PORT or --direct HOST:PORT.
# FROM scratch: the executable, the five glibc files it links (libc, libpthread,
# libdl, libm, the loader) and a non-root user; nothing else, no shell.
# Build context: the repository root, after `make build-plugins` and
# docker/stage-glibc.sh (`make images` does both):
#   docker build -f docker/prism-load.Dockerfile -t prism/prism-load .
FROM scratch
COPY dist/glibc/lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6
COPY dist/glibc/lib/x86_64-linux-gnu/libpthread.so.0 /lib/x86_64-linux-gnu/libpthread.so.0
COPY dist/glibc/lib/x86_64-linux-gnu/libdl.so.2 /lib/x86_64-linux-gnu/libdl.so.2
COPY dist/glibc/lib/x86_64-linux-gnu/libm.so.6 /lib/x86_64-linux-gnu/libm.so.6
COPY dist/glibc/lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
COPY docker/etc/passwd /etc/passwd
COPY docker/etc/group /etc/group
COPY dist/prism-load /usr/local/bin/prism-load
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/prism-load"]
