# One-shot image for docker-compose: creates the Ed25519 JWT signing key pair
# (private key in the "jwt-private" volume, mounted only by the user service;
# public key in "jwt-public", mounted by every service) and the service key
# ("service-key", mounted by every service: platform/servicetrust) on the
# first `docker compose up` and leaves existing keys alone afterwards
# (platform/cmd/keygen refuses to overwrite).
# Build context: the repository root (docker-compose.yml sets it).

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local
COPY platform/go.mod platform/go.sum platform/
RUN cd platform && go mod download
COPY platform/ platform/
RUN cd platform && go build -trimpath -ldflags="-s -w" -o /out/keygen ./cmd/keygen

# busybox (not distroless) because the "only when missing" test needs a shell.
FROM busybox:1.37.0-musl
COPY --from=build /out/keygen /usr/local/bin/keygen
# A fresh named volume mounted on these directories copies their owner, so the
# non-root services (uid 65532) can read what this non-root job writes.
RUN mkdir -p /keys/private /keys/public /keys/service && chown -R 65532:65532 /keys
USER 65532:65532
ENTRYPOINT ["/bin/sh", "-c", "set -e; if [ -s /keys/private/jwt.pem ] && [ -s /keys/public/jwt.pem ]; then echo 'keygen: keys exist'; else rm -f /keys/private/jwt.pem /keys/public/jwt.pem && keygen /keys/private/jwt.pem /keys/public/jwt.pem && echo 'keygen: new key pair written'; fi; if [ -s /keys/service/service.key ]; then echo 'keygen: service key exists'; else rm -f /keys/service/service.key && keygen -service-key /keys/service/service.key && echo 'keygen: new service key written'; fi"]
