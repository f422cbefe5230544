# syntax=docker/dockerfile:1
#
# segmentd container image: a static binary on distroless, running as the non-root user
# 65532 (distroless "nonroot").
#
#   docker build -t segmentd:dev .          # or `make image`: stamps the version (VERSION, REVISION)
#   docker run --rm -p 8080:8080 segmentd:dev run --demo        # embedded broker, not durable
#   docker run --rm -v segmentd-data:/var/lib/segmentd segmentd:dev run --brokers kafka:9092
#
# The image sets two flags through their environment variables, both overridable:
#   SEGMENTD_DATA_DIR=/var/lib/segmentd/data  the Pebble state; /var/lib/segmentd is a
#                                              volume owned by 65532 (the Helm chart mounts
#                                              each pod's PersistentVolume there)
#   SEGMENTD_HTTP_ADDR=0.0.0.0:8080            /metrics, /healthz, /readyz, the admin API;
#                                              reachable from outside the container (the
#                                              admin API then requires its bearer token)
# The root filesystem may be read-only (docker run --read-only, or the chart's
# readOnlyRootFilesystem): segmentd writes only under the data dir.
#
# Built with BuildKit (the default builder of Docker 23+). Multi-platform builds compile
# on the build host for each target: docker buildx build --platform linux/amd64,linux/arm64 .

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# The version and revision stamped into the binary (segmentd version, the metric
# segmentd_build_info); `make image` passes `git describe --always --dirty` and the
# commit. The build context has no .git, hence -buildvcs=false.
ARG VERSION=dev
ARG REVISION=
# A static binary (no cgo: distroless/static has no libc), without local paths, symbols
# or DWARF.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/segmentd ./cmd/segmentd \
 && mkdir -p /out/var/lib/segmentd

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="segmentd" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.description="Keeps customer segments of Shopify stores up to date from a Kafka stream" \
      org.opencontainers.image.source="https://github.com/segmentd/segmentd"
COPY --from=build /out/segmentd /segmentd
COPY --from=build --chown=65532:65532 /out/var/lib/segmentd /var/lib/segmentd
USER 65532:65532
ENV SEGMENTD_DATA_DIR=/var/lib/segmentd/data \
    SEGMENTD_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/var/lib/segmentd"]
ENTRYPOINT ["/segmentd"]
CMD ["run"]
