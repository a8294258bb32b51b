package main

import "github.com/bacalhau-project/bacalhau/pkg/node"

// systemConfig is the nodes' system configuration: Bacalhau's test one,
// without the v1.7 orchestrator's licence check (as its devstack does).
func systemConfig() node.SystemConfig {
	c := node.TestSystemConfig()
	c.SkipLicenseValidation = true
	return c
}
