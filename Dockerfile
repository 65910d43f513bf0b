# syntax=docker/dockerfile:1
#
# The one Clearway image: the static `clearway` binary on distroless, running as the
# non-root user 65532. Every workload in deploy/k8s runs it with a subcommand
# (evaluate, sink, ingest, gen).
#
#   docker build -t ghcr.io/clearway/clearway:v0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t … --push .

ARG GO_VERSION=1.26

# Build on the builder's own platform and cross-compile: no emulation, and the module and
# build caches survive between builds.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# CGO off: a fully static binary, which distroless/static needs (no libc). -trimpath and
# no VCS stamping keep the build reproducible from the same sources.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/clearway ./cmd/clearway

# distroless static: CA certificates, tzdata and /etc/passwd with the nonroot user, no
# shell and no package manager. The Kubernetes manifests add a read-only root, no
# capabilities and seccomp RuntimeDefault on top.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clearway /usr/local/bin/clearway
USER 65532:65532
# /healthz, /readyz and /metrics (`--http`).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/clearway"]
CMD ["--help"]
