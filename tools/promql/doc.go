// Package promqlcheck runs the alert policies' PromQL, read from tofu's JSON
// plans, on the Prometheus engine over series written the way the canary
// writes them: scripted runs become scenarios.Result values, the real
// metrics sink builds their CreateTimeSeries requests (points stamped on
// the schedule slot of each scenario's plan interval), a fake of Cloud
// Monitoring's write rules accepts or refuses each point, and what it
// accepts lands in a Prometheus TSDB labelled as Cloud Monitoring's PromQL
// shows it. The tests evaluate the queries every evaluation_interval and
// compare each answer with the design's statement of when the policy fires.
//
// It is a module of its own so that the Prometheus engine and its
// dependencies stay out of the canary's go.mod. scripts/tf-check.sh plans
// every env and runs it with TF_PLAN_DIR (check go-promql).
package promqlcheck
