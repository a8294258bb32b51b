// Package plancheck holds offline checks of the Terraform configuration in
// terraform/, run against the JSON of a plan (`tofu show -json PLANFILE`)
// made with the stand-in provider: the dashboard decodes as a Cloud
// Monitoring Dashboard message, and every time-series filter of the
// dashboard and the alert policies names a metric of terraform/metrics.json.
// scripts/tf-check.sh makes the plan and sets TF_PLAN_JSON.
package plancheck
