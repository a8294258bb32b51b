# The canary's Cloud Run job: a static binary on distroless, run as nonroot.
#   docker build -t canary .
#   docker run --rm -e CANARY_SCENARIO=list -e BACALHAU_API_HOST=… -e CANARY_METRICS=stdout canary
ARG GO_VERSION=1.26.8
# The canary's version in its result line (canary_version); Cloud Build
# passes the commit.
ARG CANARY_VERSION=unstamped

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG CANARY_VERSION
RUN go build -trimpath -ldflags="-s -w -X github.com/bacalhau-project/bacalhau-canary/pkg/canary.Version=${CANARY_VERSION}" -o /out/job ./functions/job

# static: CA certificates and tzdata, no libc, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/job /job
USER nonroot:nonroot
ENTRYPOINT ["/job"]
