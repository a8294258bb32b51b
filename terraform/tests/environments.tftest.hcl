# Per-env settings and the validation of inputs: what only an apply (or the
# API) would otherwise reject.

variables {
  env                        = "staging"
  project_id                 = "canary-test-project"
  region                     = "us-central1"
  image                      = "us-central1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary:abc1234"
  slack_channel_name         = "#bacalhau-canary-staging"
  slack_token_secret_id      = "slack-token"
  bacalhau_api_key_secret_id = "bacalhau-api-key"
}

run "staging_every_five_minutes" {
  command = plan

  assert {
    condition     = alltrue([for s in google_cloud_scheduler_job.scenario : s.schedule == "*/5 * * * *"])
    error_message = "staging runs every 5 minutes."
  }

  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.failing : p.conditions[0].condition_threshold[0].aggregations[0].alignment_period == "1500s"])
    error_message = "The alert window must be 5 runs of 5 minutes."
  }

  assert {
    condition     = length(google_cloudbuild_trigger.deploy) == 0 && length(google_service_account.deployer) == 0
    error_message = "Only prod is deployed by Cloud Build."
  }

  assert {
    condition     = alltrue([for c in google_monitoring_alert_policy.absent.conditions : c.condition_absent[0].duration == "3600s" && strcontains(c.condition_absent[0].filter, "metric.label.env = \"staging\"")])
    error_message = "staging's absence policy waits an hour and watches staging only."
  }

  assert {
    condition     = alltrue([for k, j in google_cloud_run_v2_job.scenario : contains([for e in j.template[0].template[0].containers[0].env : "${e.name}=${e.value}"], "CANARY_ENV=staging")])
    error_message = "staging jobs label their metrics env=staging."
  }
}

run "dev_runs_fewer_scenarios" {
  command = plan

  variables {
    env = "dev"
  }

  assert {
    condition     = toset(keys(google_cloud_run_v2_job.scenario)) == toset(["list", "submit"]) && toset(keys(google_monitoring_alert_policy.failing)) == toset(["list", "submit"])
    error_message = "dev enables list and submit only."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : !contains([for e in j.template[0].template[0].containers[0].env : e.name], "CANARY_NODE_SELECTORS")])
    error_message = "An empty setting must not become an empty variable."
  }
}

run "overrides" {
  command = plan

  variables {
    schedule          = "*/2 * * * *"
    canary_timeout    = "100s"
    bacalhau_api_host = "127.0.0.1"
    bacalhau_api_port = 1235
    bacalhau_api_tls  = true
  }

  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.failing : p.conditions[0].condition_threshold[0].aggregations[0].alignment_period == "600s"])
    error_message = "The alert window follows the schedule."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : j.template[0].template[0].timeout == "160s"])
    error_message = "The task timeout follows canary_timeout."
  }

  assert {
    condition = alltrue([for j in google_cloud_run_v2_job.scenario : (
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["BACALHAU_API_TLS"] == "true" &&
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["BACALHAU_API_PORT"] == "1235"
    )])
    error_message = "Endpoint overrides must reach the jobs."
  }
}

run "unknown_env_rejected" {
  command = plan

  variables {
    env = "qa"
  }

  expect_failures = [var.env]
}

run "malformed_schedule_rejected" {
  command = plan

  variables {
    schedule = "every minute"
  }

  expect_failures = [var.schedule]
}

run "irregular_schedule_rejected" {
  command = plan

  variables {
    schedule = "0 9 * * 1-5"
  }

  expect_failures = [var.schedule]
}

run "zero_interval_rejected" {
  command = plan

  variables {
    schedule = "*/0 * * * *"
  }

  expect_failures = [var.schedule]
}

run "image_outside_artifact_registry_rejected" {
  command = plan

  variables {
    image = "docker.io/library/busybox:latest"
  }

  expect_failures = [var.image]
}

run "image_without_tag_or_digest_rejected" {
  command = plan

  variables {
    image = "us-central1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary"
  }

  expect_failures = [var.image]
}

run "short_digest_rejected" {
  command = plan

  variables {
    image = "us-central1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary@sha256:abc"
  }

  expect_failures = [var.image]
}

run "duration_without_unit_rejected" {
  command = plan

  variables {
    canary_timeout = "90"
  }

  expect_failures = [var.canary_timeout]
}

run "duration_in_minutes_rejected" {
  command = plan

  variables {
    canary_timeout = "1m30s"
  }

  expect_failures = [var.canary_timeout]
}

run "bad_project_rejected" {
  command = plan

  variables {
    project_id = "Canary_Project"
  }

  expect_failures = [var.project_id]
}

run "bad_port_rejected" {
  command = plan

  variables {
    bacalhau_api_port = 70000
  }

  expect_failures = [var.bacalhau_api_port]
}

run "prod_trigger_needs_state_bucket" {
  command = plan

  variables {
    env = "prod"
  }

  expect_failures = [google_cloudbuild_trigger.deploy]
}
