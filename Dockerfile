# spa900: a software Linksys SPA 900-series IP phone.
#
#   docker build -t spa900 .
#   docker run --rm -p 8080:8080 -p 5060:5060/udp -v spa900-data:/data spa900
#
# Flags go after the image name (see `spa900 -h`); the defaults here listen on all interfaces of
# the container. Environment: none is read; everything is a flag.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/spa900 ./cmd/spa900

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/spa900 /usr/local/bin/spa900
# The web server (admin pages, action URLs, /api/v1) and SIP (Ext 1 default port 5060, Ext 2 5061, ...).
EXPOSE 8080/tcp 5060/udp 5061/udp 5062/udp 5063/udp
VOLUME ["/data"]
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/spa900", "--data", "/data", "--http", "0.0.0.0:8080", "--ip", "0.0.0.0"]
