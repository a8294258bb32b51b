# Plan-mode checks of the prod configuration. They run offline against the
# schema-only stand-in provider (scripts/tf-check.sh), so they can only look
# at what a plan knows: configuration values, not IDs or emails the API
# assigns.

variables {
  env                        = "prod"
  project_id                 = "canary-test-project"
  region                     = "europe-west1"
  image                      = "europe-west1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  slack_channel_name         = "bacalhau-canary"
  slack_token_secret_id      = "slack-token"
  bacalhau_api_key_secret_id = "bacalhau-api-key"
  state_bucket               = "canary-test-project-tfstate"
}

run "one_job_schedule_and_policy_per_scenario" {
  command = plan

  assert {
    condition     = toset(keys(google_cloud_run_v2_job.scenario)) == toset(["list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"])
    error_message = "prod must have exactly one Cloud Run job per scenario."
  }

  assert {
    condition     = toset(keys(google_cloud_scheduler_job.scenario)) == toset(keys(google_cloud_run_v2_job.scenario))
    error_message = "Every job must have exactly one scheduler job."
  }

  assert {
    condition     = toset(keys(google_monitoring_alert_policy.failing)) == toset(keys(google_cloud_run_v2_job.scenario))
    error_message = "Every job must have exactly one failure alert policy."
  }

  assert {
    condition     = toset(keys(google_cloud_run_v2_job_iam_member.scheduler_invoker)) == toset(keys(google_cloud_run_v2_job.scenario))
    error_message = "The scheduler account must be an invoker of every job."
  }

  assert {
    condition     = length(google_monitoring_alert_policy.absent.conditions) == length(google_cloud_run_v2_job.scenario)
    error_message = "The absence policy must watch every scenario."
  }
}

run "job_names_and_environment" {
  command = plan

  assert {
    condition = {
      for k, j in google_cloud_run_v2_job.scenario : k => j.name
      } == {
      list                  = "bacalhau-canary-list"
      submit                = "bacalhau-canary-submit"
      submitAndDescribe     = "bacalhau-canary-submit-and-describe"
      submitAndGet          = "bacalhau-canary-submit-and-get"
      submitWithConcurrency = "bacalhau-canary-submit-with-concurrency"
    }
    error_message = "Job names must be the scenario keys in lowercase with hyphens."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : j.template[0].template[0].max_retries == 0 && j.template[0].template[0].timeout == "105s"])
    error_message = "Jobs must not retry and must time out 60s after CANARY_TIMEOUT."
  }

  assert {
    condition = alltrue([
      for k, j in google_cloud_run_v2_job.scenario : (
        { for e in j.template[0].template[0].containers[0].env : e.name => e.value } == {
          CANARY_SCENARIO         = k
          CANARY_ENV              = "prod"
          CANARY_METRICS          = "gcp"
          CANARY_TIMEOUT          = "45s"
          CANARY_ENGINE           = "docker"
          CANARY_NODE_SELECTORS   = "owner=bacalhau"
          CANARY_LOCATION         = "europe-west1"
          GOOGLE_CLOUD_PROJECT    = "canary-test-project"
          BACALHAU_API_HOST       = "bootstrap.production.bacalhau.org"
          BACALHAU_API_PORT       = "1234"
          BACALHAU_API_TLS        = "false"
          BACALHAU_API_KEY_SECRET = "projects/canary-test-project/secrets/bacalhau-api-key/versions/latest"
        }
      )
    ])
    error_message = "Each job's environment must follow the contract, with the API key's secret version name and no key value."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : alltrue([for e in j.template[0].template[0].containers[0].env : length(e.value_source) == 0])])
    error_message = "No job may mount a secret value into its environment."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : j.template[0].template[0].containers[0].image == var.image])
    error_message = "Every job must run the given image."
  }
}

run "schedules_target_their_own_job" {
  command = plan

  assert {
    condition = alltrue([
      for k, s in google_cloud_scheduler_job.scenario :
      s.http_target[0].uri == "https://run.googleapis.com/v2/projects/canary-test-project/locations/europe-west1/jobs/${google_cloud_run_v2_job.scenario[k].name}:run"
    ])
    error_message = "Each scheduler job must POST to its own job's :run method."
  }

  assert {
    condition     = alltrue([for s in google_cloud_scheduler_job.scenario : s.http_target[0].http_method == "POST" && length(s.http_target[0].oauth_token) == 1 && length(s.http_target[0].oidc_token) == 0])
    error_message = "Scheduler jobs must POST with an OAuth token (the Run Admin API takes OAuth, not OIDC)."
  }

  assert {
    condition     = alltrue([for s in google_cloud_scheduler_job.scenario : s.schedule == "* * * * *" && s.region == "europe-west1"])
    error_message = "prod runs every scenario every minute."
  }

  assert {
    condition     = length(distinct([for s in google_cloud_scheduler_job.scenario : s.http_target[0].uri])) == length(google_cloud_scheduler_job.scenario)
    error_message = "No two scheduler jobs may target the same job."
  }
}

run "least_privilege" {
  command = plan

  assert {
    condition     = toset([for m in google_project_iam_member.runtime : m.role]) == toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])
    error_message = "The runtime account may hold only metricWriter and logWriter at project level."
  }

  assert {
    condition     = google_secret_manager_secret_iam_member.runtime_api_key.role == "roles/secretmanager.secretAccessor" && google_secret_manager_secret_iam_member.runtime_api_key.secret_id == "bacalhau-api-key"
    error_message = "The runtime account may read the Bacalhau API key secret, and only that secret."
  }

  assert {
    condition     = toset([for m in google_cloud_run_v2_job_iam_member.scheduler_invoker : m.role]) == toset(["roles/run.invoker"])
    error_message = "The scheduler account may only invoke the jobs."
  }

  assert {
    condition     = length(setintersection(toset([for m in google_project_iam_member.deployer : m.role]), toset(["roles/owner", "roles/editor", "roles/iam.securityAdmin"]))) == 0
    error_message = "The Cloud Build deployer must not hold basic or security-admin roles."
  }

  assert {
    condition     = length(google_project_iam_member.deployer["roles/resourcemanager.projectIamAdmin"].condition) == 1
    error_message = "The deployer's project IAM admin role must be limited by a condition."
  }
}

run "slack_token_only_write_only" {
  command = plan

  assert {
    condition     = google_monitoring_notification_channel.slack.type == "slack" && google_monitoring_notification_channel.slack.labels == tomap({ channel_name = "#bacalhau-canary" })
    error_message = "The channel must be a Slack channel whose only plain label is channel_name."
  }

  assert {
    condition     = nonsensitive(google_monitoring_notification_channel.slack.sensitive_labels[0].auth_token == null)
    error_message = "The Slack token must not go through the stored auth_token attribute."
  }

  assert {
    condition     = google_monitoring_notification_channel.slack.sensitive_labels[0].auth_token_wo == null
    error_message = "A write-only attribute must never appear in a plan."
  }

  assert {
    condition     = google_monitoring_notification_channel.slack.sensitive_labels[0].auth_token_wo_version == "1"
    error_message = "The write-only token must be versioned by slack_token_secret_version."
  }
}

run "alert_policy_semantics" {
  command = plan

  assert {
    condition = alltrue([
      for k, p in google_monitoring_alert_policy.failing : (
        p.conditions[0].condition_threshold[0].filter == "metric.type = \"custom.googleapis.com/bacalhau_canary/success\" AND resource.type = \"generic_task\" AND resource.label.job = \"${k}\" AND metric.label.env = \"prod\""
      )
    ])
    error_message = "Each failure policy must watch its own scenario's success metric in prod."
  }

  assert {
    condition = alltrue([
      for p in google_monitoring_alert_policy.failing : (
        p.conditions[0].condition_threshold[0].aggregations[0].alignment_period == "300s" &&
        p.conditions[0].condition_threshold[0].aggregations[0].per_series_aligner == "ALIGN_SUM" &&
        p.conditions[0].condition_threshold[0].comparison == "COMPARISON_LT" &&
        p.conditions[0].condition_threshold[0].threshold_value == 2.5 &&
        p.conditions[0].condition_threshold[0].evaluation_missing_data == "EVALUATION_MISSING_DATA_ACTIVE"
      )
    ])
    error_message = "Failure policies must fire on fewer than 3 passes in the last 5 one-minute runs, missing data counting as failing."
  }

  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.failing : contains(p.alert_strategy[0].notification_prompts, "CLOSED")])
    error_message = "Failure policies must notify when the incident closes."
  }

  assert {
    condition = alltrue([
      for p in google_monitoring_alert_policy.failing : alltrue([
        for class in ["unavailable", "timeout", "auth", "bad_request", "server", "protocol", "job_failed", "output_mismatch", "concurrency", "canary"] :
        strcontains(p.documentation[0].content, "- `${class}`: ")
      ])
    ])
    error_message = "Each policy's documentation must have a runbook line per error class."
  }

  assert {
    condition = alltrue([
      for p in concat(values(google_monitoring_alert_policy.failing), [google_monitoring_alert_policy.absent]) :
      strcontains(p.documentation[0].content, "https://console.cloud.google.com/monitoring/dashboards/builder/bacalhau-canary-prod?project=canary-test-project") &&
      p.documentation[0].links[0].url == "https://console.cloud.google.com/monitoring/dashboards/builder/bacalhau-canary-prod?project=canary-test-project"
    ])
    error_message = "Every policy's documentation must link the dashboard."
  }

  assert {
    condition     = jsondecode(google_monitoring_dashboard.canary.dashboard_json).name == "projects/canary-test-project/dashboards/bacalhau-canary-prod"
    error_message = "The dashboard ID the documentation links to must be the dashboard's."
  }
}

run "dashboard_and_descriptors" {
  command = plan

  assert {
    condition     = can(jsondecode(google_monitoring_dashboard.canary.dashboard_json).mosaicLayout.tiles)
    error_message = "The dashboard JSON must decode to a mosaic layout."
  }

  assert {
    condition = length(setsubtract(
      toset(["list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"]),
      toset([for t in jsondecode(google_monitoring_dashboard.canary.dashboard_json).mosaicLayout.tiles : t.widget.title]),
    )) == 0
    error_message = "The dashboard must have a section named after every scenario."
  }

  assert {
    condition     = length(google_monitoring_metric_descriptor.catalogue) == length(jsondecode(file("${path.module}/metrics.json")).metrics)
    error_message = "There must be one metric descriptor per metric of metrics.json."
  }

  assert {
    condition = alltrue([
      for m in jsondecode(file("${path.module}/metrics.json")).metrics : (
        google_monitoring_metric_descriptor.catalogue[m.name].type == "custom.googleapis.com/bacalhau_canary/${m.name}" &&
        google_monitoring_metric_descriptor.catalogue[m.name].metric_kind == "GAUGE" &&
        google_monitoring_metric_descriptor.catalogue[m.name].value_type == m.value_type &&
        toset([for l in google_monitoring_metric_descriptor.catalogue[m.name].labels : l.key]) == toset([for l in m.labels : l.key])
      )
    ])
    error_message = "Descriptors must match metrics.json (type, GAUGE kind, value type, labels)."
  }
}

run "build_trigger" {
  command = plan

  assert {
    condition     = length(google_cloudbuild_trigger.deploy) == 1 && google_cloudbuild_trigger.deploy[0].github[0].push[0].branch == "^main$" && google_cloudbuild_trigger.deploy[0].filename == "cloudbuild.yaml"
    error_message = "prod must have one Cloud Build trigger on push to main running cloudbuild.yaml."
  }
}

run "prod_runs_never_overlap" {
  command = plan

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["CANARY_TIMEOUT"] == "45s"])
    error_message = "prod runs every minute, so its deadline stays below a minute."
  }
}

run "timeout_longer_than_interval_rejected" {
  command = plan

  variables {
    canary_timeout = "90s"
  }

  expect_failures = [google_cloud_run_v2_job.scenario]
}
