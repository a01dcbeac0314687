#!/bin/sh
# `go test -exec` runs the api test binary through this: from $CONFORMANCE_WORKDIR, so the tests'
# ../test/client_certs paths find the certificates run.sh made.
cd "$CONFORMANCE_WORKDIR" && exec "$@"
