package main

import "github.com/bacalhau-project/bacalhau/pkg/node"

// systemConfig is the nodes' system configuration: Bacalhau's test one.
func systemConfig() node.SystemConfig { return node.TestSystemConfig() }
