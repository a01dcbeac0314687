#!/usr/bin/env bash
# Runs HashiCorp's Go client's own tests (github.com/hashicorp/consul/api, pinned in go.mod)
# against consul-sim: `make conformance` calls this. sdk/testutil starts "consul" from PATH, so a
# consul-sim shim goes first on PATH; CONSUL_HTTP_* is cleared so no outside agent is reached.
# The selection is tests.txt (one test name a line); excluded.txt says why the rest is left out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
parallel=${CONFORMANCE_PARALLEL:-4}
timeout=${CONFORMANCE_TIMEOUT:-15m}

cd "$here"
go mod download

work=$(mktemp -d "${TMPDIR:-/tmp}/consul-sim-conformance.XXXXXX")
trap 'rm -rf "$work"' EXIT
shim="$work/bin"
mkdir -p "$shim"
"$root/.venv/bin/consul-sim" shim "$shim" >/dev/null

# The tests load client certificates from ../test/client_certs, relative to the package
# directory, which the module does not ship. The test binary runs from $work/api (through
# -exec inside.sh) beside certificates made here and now: the client only loads them (it talks
# plain HTTP to the agent), so any valid CA, client and server key pairs will do.
certs="$work/test/client_certs"
mkdir -p "$certs" "$work/api"
(
    cd "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout rootca.key -out rootca.crt -days 2 \
        -subj /CN=consul-sim-conformance-ca 2>/dev/null
    for who in client server; do
        openssl req -newkey rsa:2048 -nodes -keyout "$who.key" -out "$who.csr" \
            -subj "/CN=$who.dc1.consul" 2>/dev/null
        openssl x509 -req -in "$who.csr" -CA rootca.crt -CAkey rootca.key -CAcreateserial \
            -out "$who.crt" -days 2 2>/dev/null
    done
)
export CONFORMANCE_WORKDIR="$work/api"
for var in $(env | sed -n 's/^\(CONSUL_HTTP_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$var"; done
export PATH="$shim:$PATH"

names() { sed -e 's/#.*//' -e 's/[[:space:]].*//' "$1" | grep -v '^$' || true; }
selected=$(names tests.txt | wc -l)
excluded=$(names excluded.txt | wc -l)
regex="^($(names tests.txt | paste -sd '|'))\$"
# CONFORMANCE_RUN narrows the run to a regex of its own (one test while fixing it); the counts
# above still describe the whole selection.
regex=${CONFORMANCE_RUN:-$regex}

log="$work/go-test.log"
status=0
go test -exec "$here/inside.sh" github.com/hashicorp/consul/api -run "$regex" -count=1 -parallel "$parallel" \
    -timeout "$timeout" -v >"$log" 2>&1 || status=$?
# Go's own summary: each failed test and the package line; the full log stays on request.
grep -E '^(--- FAIL|FAIL|ok|panic)' "$log" || true
passed=$(grep -cE '^--- PASS: [^/]*$' "$log" || true)
failed=$(grep -cE '^--- FAIL: [^/ ]* ' "$log" || true)
echo "conformance: $passed passed, $failed failed of $selected selected; $excluded excluded"
if [ -n "${CONFORMANCE_LOG:-}" ]; then cp "$log" "$CONFORMANCE_LOG"; fi
exit "$status"
