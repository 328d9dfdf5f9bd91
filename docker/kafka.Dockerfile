# prism kafka: the Kafka pattern (gRPC 50051, /health /ready /metrics on 9090); mount its --config.
# FROM scratch: the executable, the five glibc files it links (libc, libpthread,
# libdl, libm, the loader) and a non-root user; nothing else, no shell.
# Build context: the repository root, after `make build-plugins` and
# docker/stage-glibc.sh (`make images` does both):
#   docker build -f docker/kafka.Dockerfile -t prism/kafka .
FROM scratch
COPY dist/glibc/lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6
COPY dist/glibc/lib/x86_64-linux-gnu/libpthread.so.0 /lib/x86_64-linux-gnu/libpthread.so.0
COPY dist/glibc/lib/x86_64-linux-gnu/libdl.so.2 /lib/x86_64-linux-gnu/libdl.so.2
COPY dist/glibc/lib/x86_64-linux-gnu/libm.so.6 /lib/x86_64-linux-gnu/libm.so.6
COPY dist/glibc/lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
COPY docker/etc/passwd /etc/passwd
COPY docker/etc/group /etc/group
COPY dist/kafka /usr/local/bin/kafka
USER 65532:65532
EXPOSE 50051 9090
ENV PRISM_GRPC_PORT=50051 PRISM_METRICS_PORT=9090 PRISM_GRPC_HOST=0.0.0.0 PRISM_METRICS_HOST=0.0.0.0
ENTRYPOINT ["/usr/local/bin/kafka"]
