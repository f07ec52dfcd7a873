#!/usr/bin/env bash
# The outside load generators of `make bench-read` (docs/benchmarks.md): wrk (Debian) for
# saturation, vegeta (Go) for constant-rate open-loop latency. Installs what is missing;
# prints the command instead when it cannot (wrk needs root).
set -euo pipefail
BIN="$(cd "$(dirname "$0")/.." && pwd)/.run/bin"
VEGETA="github.com/tsenart/vegeta/v12@v12.13.0"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
mkdir -p "$BIN"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y wrk >/dev/null
  else
    echo "wrk is missing: run  sudo apt-get install -y wrk" >&2
    exit 1
  fi
fi

if [ ! -x "$BIN/vegeta" ]; then
  if [ ! -x "$GO" ]; then
    echo "vegeta is missing and Go is not installed: install Go, then  GOBIN=$BIN go install $VEGETA" >&2
    exit 1
  fi
  GOBIN="$BIN" "$GO" install "$VEGETA"
fi
