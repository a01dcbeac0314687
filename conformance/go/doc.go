// Package conformance pins HashiCorp's Consul api module (and the sdk its tests
// start Consul with) so `make conformance` can run that module's own tests
// against consul-sim. Nothing of HashiCorp's code lives here: `go test
// github.com/hashicorp/consul/api` runs the tests from the module cache.
package conformance

import (
	_ "github.com/hashicorp/consul/api"
	_ "github.com/hashicorp/consul/sdk/testutil"
)
