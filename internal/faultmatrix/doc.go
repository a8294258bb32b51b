// Package faultmatrix holds the canary's reliability matrix: tests that
// break the API (through internal/faultproxy), the Bacalhau network, the
// recording side (the fake Cloud Monitoring) and the input, run the canary
// against each fault and assert the error class, the time bound, that no
// canary job is left running, the exit status and the result log line.
// The case list is also the table in docs/reliability.md:
//
//	go test ./internal/faultmatrix -run TestReliabilityDoc -update
//
// rewrites it; the test fails when the two disagree.
package faultmatrix
