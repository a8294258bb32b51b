#!/usr/bin/env bash
# Builds OpenTofu from the Go module proxy into a per-user cache and prints the
# binary's path. A cached binary is reused. `go install` refuses the module
# because its go.mod has a replace directive, so the module is downloaded,
# copied to a writable directory and built there (about 10 minutes cold on
# 2 cores).
set -euo pipefail

version="${TOFU_VERSION:-v1.12.6}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/bacalhau-canary/tofu-${version}"
bin="${cache}/tofu"

if [[ -x "${bin}" ]] && "${bin}" version >/dev/null 2>&1; then
  echo "${bin}"
  exit 0
fi

mkdir -p "${cache}"
work="$(mktemp -d)"
trap 'chmod -R u+w "${work}" 2>/dev/null; rm -rf "${work}"' EXIT

echo "build-tofu: building OpenTofu ${version} (slow when cold)" >&2
dir="$(cd "${work}" && GOFLAGS=-mod=mod go mod download -json "github.com/opentofu/opentofu@${version}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${dir}" || ! -d "${dir}" ]]; then
  echo "build-tofu: could not download github.com/opentofu/opentofu@${version}" >&2
  exit 1
fi
cp -R "${dir}" "${work}/src"
chmod -R u+w "${work}/src"
(
  cd "${work}/src"
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 10 go build -trimpath \
    -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
    -o "${work}/tofu" ./cmd/tofu
)
mv "${work}/tofu" "${bin}.tmp"
mv "${bin}.tmp" "${bin}"
echo "${bin}"
