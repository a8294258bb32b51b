# Per-env settings and the validation of inputs: what only an apply (or the
# API) would otherwise reject. The google provider is mocked, as in
# prod.tftest.hcl: no test touches an API.

mock_provider "google" {}

variables {
  env                        = "staging"
  project_id                 = "canary-test-project"
  region                     = "us-central1"
  image                      = "us-central1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary:abc1234"
  slack_channel_name         = "#bacalhau-canary-staging"
  slack_token_secret_id      = "slack-token"
  bacalhau_api_key_secret_id = "bacalhau-api-key"
}

run "staging_schedules" {
  command = plan

  assert {
    condition = { for k, s in google_cloud_scheduler_job.scenario : k => s.schedule } == {
      list                  = "*/5 * * * *"
      nodes                 = "*/5 * * * *"
      submit                = "*/10 * * * *"
      submitAndDescribe     = "*/30 * * * *"
      submitAndGet          = "*/30 * * * *"
      submitWithConcurrency = "*/30 * * * *"
    }
    error_message = "staging runs list and nodes every 5 minutes, submit every 10, the three heavier scenarios every 30 (288 canary jobs a day)."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "((sum by (job) (count_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"staging\", job=~\"list|nodes\"}[25m] offset 5m)) - sum by (job) (sum_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"staging\", job=~\"list|nodes\"}[25m] offset 5m))) >= 3)") && strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "max by (job) (last_over_time({\"custom.googleapis.com/bacalhau_canary/failure_cause\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"staging\", job=~\"list|nodes\"}[30m]))") && length(split(" or ", google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query)) == 6
    error_message = "The alert window is 5 runs of each schedule (5, 10 and 30 minutes), one branch each (with the cause of the window and the current slot, or without), grouped by job."
  }

  assert {
    condition     = length(google_monitoring_alert_policy.failing.conditions) + length(google_monitoring_alert_policy.stopped.conditions) + length(google_monitoring_alert_policy.canary.conditions) == 3
    error_message = "staging has three alert conditions in all."
  }

  assert {
    condition     = google_monitoring_alert_policy.failing.severity == "WARNING"
    error_message = "staging does not page as CRITICAL."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query, "env=\"staging\"") && strcontains(google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query, "[15m]")
    error_message = "staging's stopped policy waits 3 intervals of 5 minutes and watches staging only."
  }

  assert {
    condition = alltrue([for k, j in google_cloud_run_v2_job.scenario : (
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["CANARY_ENV"] == "staging" &&
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["CANARY_PUBLISHER"] == "default" &&
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["BACALHAU_API_TLS"] == "true" &&
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["CANARY_SCHEDULE_INTERVAL"] == "${google_cloud_scheduler_job.scenario[k].schedule == "*/5 * * * *" ? 5 : (k == "submit" ? 10 : 30)}m" &&
      !contains([for e in j.template[0].template[0].containers[0].env : e.name], "CANARY_ALLOW_PLAINTEXT_CREDENTIALS")
    )])
    error_message = "staging jobs: env=staging, the network's default publisher, TLS, slots of their schedule, no plaintext opt-in."
  }
}

run "dev_runs_fewer_scenarios" {
  command = plan

  variables {
    env = "dev"
  }

  assert {
    condition     = { for k, s in google_cloud_scheduler_job.scenario : k => s.schedule } == { list = "*/5 * * * *", nodes = "*/5 * * * *", submit = "*/15 * * * *" }
    error_message = "dev enables list and nodes every 5 minutes and submit every 15, nothing else."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "job=~\"list|nodes\"}[25m] offset 5m") && strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "job=~\"submit\"}[75m] offset 15m") && length(google_monitoring_alert_policy.failing.conditions) + length(google_monitoring_alert_policy.stopped.conditions) + length(google_monitoring_alert_policy.canary.conditions) == 3
    error_message = "dev's failing condition covers its three scenarios; three conditions in all."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : !contains([for e in j.template[0].template[0].containers[0].env : e.name], "CANARY_NODE_SELECTORS")])
    error_message = "An empty setting must not become an empty variable."
  }
}

run "override_shorter_than_timeout_rejected" {
  command = plan

  variables {
    interval_minutes  = { submit = 1 }
    canary_timeout    = "100s"
    bacalhau_api_host = "127.0.0.1"
    bacalhau_api_port = 1235
    bacalhau_api_tls  = false
  }

  expect_failures = [google_cloud_run_v2_job.scenario["submit"]]
}

run "per_scenario_override" {
  command = plan

  variables {
    interval_minutes  = { submit = 10, submitAndGet = 15 }
    canary_timeout    = "100s"
    bacalhau_api_host = "127.0.0.1"
    bacalhau_api_port = 1235
    bacalhau_api_tls  = false
  }

  assert {
    condition     = google_cloud_scheduler_job.scenario["submit"].schedule == "*/10 * * * *" && google_cloud_scheduler_job.scenario["submitAndGet"].schedule == "*/15 * * * *" && google_cloud_scheduler_job.scenario["list"].schedule == "*/5 * * * *"
    error_message = "interval_minutes overrides single scenarios' schedules."
  }

  assert {
    condition = alltrue([
      for branch in ["job=~\"list|nodes\"}[25m] offset 5m", "job=~\"submit\"}[50m] offset 10m", "job=~\"submitAndGet\"}[75m] offset 15m", "job=~\"submitAndDescribe|submitWithConcurrency\"}[150m] offset 30m"] :
      strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, branch)
    ])
    error_message = "The N-of-M window follows each scenario's schedule."
  }

  assert {
    condition     = { for k, j in google_cloud_run_v2_job.scenario : k => { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["CANARY_SCHEDULE_INTERVAL"] }["submitAndGet"] == "15m"
    error_message = "The job stamps its points on the interval its scheduler fires at."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : j.template[0].template[0].timeout == "160s"])
    error_message = "The task timeout follows canary_timeout."
  }

  assert {
    condition = alltrue([for j in google_cloud_run_v2_job.scenario : (
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["BACALHAU_API_TLS"] == "false" &&
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

run "interval_not_dividing_an_hour_rejected" {
  command = plan

  variables {
    interval_minutes = { list = 7 }
  }

  expect_failures = [var.interval_minutes]
}

run "zero_interval_rejected" {
  command = plan

  variables {
    interval_minutes = { list = 0 }
  }

  expect_failures = [var.interval_minutes]
}

run "unknown_scenario_rejected" {
  command = plan

  variables {
    interval_minutes = { submitAndPray = 5 }
  }

  expect_failures = [var.interval_minutes]
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

run "gate_env_staging" {
  command = plan

  assert {
    condition     = toset(keys(output.gate_env_vars)) == toset([for j in google_cloud_run_v2_job.scenario : trimprefix(j.name, "bacalhau-canary-")])
    error_message = "The gate has one environment per enabled scenario, keyed by the job's slug."
  }

  assert {
    # Parsed as gcloud does: KEY=VALUE pairs split on @, a value may hold "=".
    condition = alltrue([for k, j in google_cloud_run_v2_job.scenario : {
      for kv in split("@", trimprefix(output.gate_env_vars[trimprefix(j.name, "bacalhau-canary-")], "^@^")) :
      split("=", kv)[0] => join("=", slice(split("=", kv), 1, length(split("=", kv))))
      } == merge(
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value if e.name != "CANARY_IMAGE" },
      { CANARY_METRICS = "none" },
    )])
    error_message = "Each gate run has its deployed job's environment, CANARY_METRICS=none, no CANARY_IMAGE."
  }

  assert {
    condition     = output.deployed_image == var.image
    error_message = "The gate's baseline is the image of this apply."
  }
}

run "gate_env_dev" {
  command = plan

  variables {
    env = "dev"
  }

  assert {
    condition     = toset(keys(output.gate_env_vars)) == toset([for j in google_cloud_run_v2_job.scenario : trimprefix(j.name, "bacalhau-canary-")])
    error_message = "The gate has one environment per enabled scenario, keyed by the job's slug."
  }

  assert {
    # Parsed as gcloud does: KEY=VALUE pairs split on @, a value may hold "=".
    condition = alltrue([for k, j in google_cloud_run_v2_job.scenario : {
      for kv in split("@", trimprefix(output.gate_env_vars[trimprefix(j.name, "bacalhau-canary-")], "^@^")) :
      split("=", kv)[0] => join("=", slice(split("=", kv), 1, length(split("=", kv))))
      } == merge(
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value if e.name != "CANARY_IMAGE" },
      { CANARY_METRICS = "none" },
    )])
    error_message = "Each gate run has its deployed job's environment, CANARY_METRICS=none, no CANARY_IMAGE."
  }

  assert {
    condition     = output.deployed_image == var.image
    error_message = "The gate's baseline is the image of this apply."
  }
}

run "dev_reaches_its_network_over_tls" {
  command = plan

  variables {
    env = "dev"
  }

  assert {
    condition = alltrue([for k, j in google_cloud_run_v2_job.scenario :
      { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["BACALHAU_API_TLS"] == "true"
    ])
    error_message = "dev sends its API key, so it must use TLS (the job refuses a key in clear text)."
  }
}

run "plaintext_key_rejected_at_plan" {
  command = plan

  variables {
    env              = "dev"
    bacalhau_api_tls = false
  }

  expect_failures = [google_cloud_run_v2_job.scenario]
}

run "plaintext_key_to_loopback_accepted" {
  command = plan

  variables {
    env               = "dev"
    bacalhau_api_tls  = false
    bacalhau_api_host = "127.0.0.1"
  }

  assert {
    condition     = length(google_cloud_run_v2_job.scenario) == 3
    error_message = "A key in clear text to a loopback host is the job's own exception."
  }
}

run "slo_goal_of_one_rejected" {
  command = plan

  variables {
    slo_goal = 1
  }

  expect_failures = [var.slo_goal]
}

run "slo_goal_below_half_rejected" {
  command = plan

  variables {
    slo_goal = 0.3
  }

  expect_failures = [var.slo_goal]
}

run "slo_window_follows_schedule" {
  command = plan

  variables {
    interval_minutes = { submitAndGet = 15 }
  }

  assert {
    condition     = google_monitoring_slo.scenario["submitAndGet"].windows_based_sli[0].window_period == "900s" && google_monitoring_slo.scenario["list"].windows_based_sli[0].window_period == "300s"
    error_message = "An SLO's window is its scenario's schedule slot."
  }
}
