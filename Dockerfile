# syntax=docker/dockerfile:1
# ctwatch's container image: the static binary of `make build` on distroless
# static (no shell, no libc; CA certificates, /etc/passwd and tzdata, which
# `ctwatch parse --tz` uses). Build and push (see docs/deploy.md):
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t REGISTRY/ctwatch:TAG .
#   docker buildx build --platform linux/amd64,linux/arm64 ... (cross-compiled, no emulation)
#
# Run it on a host's network with the one capability it needs:
#
#   docker run --rm --network host --cap-drop ALL --cap-add NET_ADMIN --read-only REGISTRY/ctwatch:TAG

# The builder runs on the build machine's own platform and cross-compiles:
# the binary is pure Go (CGO_ENABLED=0).
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# .dockerignore leaves out .git, so the version comes from the build
# argument rather than git describe.
ARG VERSION=dev
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 make build VERSION=$VERSION

# Root (uid 0) in the container, not distroless's nonroot user: a non-root
# process gets no effective capability from --cap-add or a pod's
# capabilities.add (no ambient capabilities are set), and ctwatch needs
# CAP_NET_ADMIN. Drop every other capability when running it (as above, and
# as deploy/kubernetes/daemonset.yaml does).
FROM gcr.io/distroless/static-debian12
COPY --from=build /src/bin/ctwatch /usr/local/bin/ctwatch
USER 0:0
# The metrics port, when --metrics-addr is given.
EXPOSE 9671
ENTRYPOINT ["/usr/local/bin/ctwatch"]
CMD ["watch"]
