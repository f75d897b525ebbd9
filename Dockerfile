# spa900: a software Linksys SPA 900-series IP phone, as a small static image.
#
#   docker build -t spa900 .
#   docker run --rm -p 8080:8080 -p 5060:5060/udp spa900 --set 'Profile_Rule=http://prov/spa$MA.cfg'
#
# Flags go after the image name (`docker run spa900 -h` lists them); every flag can also be
# given in the environment as SPA900_<NAME> (SPA900_MODEL=SPA962; SPA900_SET with one
# NAME=VALUE a line), the command line winning. In the image the phone takes the container's
# own address (SPA900_IP=auto: the first non-loopback interface), so that SIP Contact, SDP and
# $IP carry an address the PBX and the provisioning server can reach; logs are JSON.
#
# The build stage is golang:1.26 (CGO_ENABLED=0: a static binary); the image itself is
# FROM scratch with the binary, the CA bundle for HTTPS provisioning, and an unprivileged
# user: nothing to pull but the build base.
ARG GO_IMAGE=golang:1.26
FROM ${GO_IMAGE} AS build
WORKDIR /src
# GOPROXY and GOFLAGS are build arguments so that a CI without a module proxy can pass
# GOFLAGS=-mod=vendor or a local proxy; the defaults are Go's own.
ARG GOPROXY
ARG GOFLAGS
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/spa900 ./cmd/spa900 \
 && mkdir -p /out/data /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && printf 'spa900:x:65532:65532:spa900:/data:/spa900\n' >/out/etc/passwd \
 && printf 'spa900:x:65532:\n' >/out/etc/group

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="spa900" \
      org.opencontainers.image.description="A software Linksys SPA 900-series IP phone (SPA942 and siblings, firmware 5.1): provisioning, firmware upgrade, web pages, JSON API" \
      org.opencontainers.image.source="https://github.com/spa900/spa900" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/etc/ /etc/
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/spa900 /spa900
ENV SPA900_IP=auto \
    SPA900_HTTP=0.0.0.0:8080 \
    SPA900_DATA=/data \
    SPA900_LOG_FORMAT=json
# The web server (pages, action URLs, /api/v1, /healthz, /metrics); SIP of Ext 1 to 4 (the
# device's 5060, 5061, …); RTP (the device's default RTP_Port_Min..RTP_Port_Max).
EXPOSE 8080/tcp 5060/udp 5060/tcp 5061/udp 5062/udp 5063/udp 16384-16482/udp
VOLUME ["/data"]
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/spa900", "health"]
ENTRYPOINT ["/spa900"]
