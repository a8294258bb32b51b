# Plan-mode checks of the prod configuration. The google provider is mocked
# (mock_provider below): OpenTofu neither configures it nor asks it to plan,
# read a data source or open an ephemeral resource, so the tests touch no API
# and need no credentials, both offline (scripts/tf-check.sh, the stand-in
# provider) and in Cloud Build (the real provider, real credentials). The
# provider still validates the configuration against its schema. Values the
# API would assign (IDs, emails) are made-up strings: assert on
# configuration values only.

mock_provider "google" {}

variables {
  env                        = "prod"
  project_id                 = "canary-test-project"
  region                     = "europe-west1"
  image                      = "europe-west1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  slack_channel_name         = "bacalhau-canary"
  slack_token_secret_id      = "slack-token"
  bacalhau_api_key_secret_id = "bacalhau-api-key"
}

run "one_job_schedule_and_policy_per_scenario" {
  command = plan

  assert {
    condition     = toset(keys(google_cloud_run_v2_job.scenario)) == toset(["list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency", "nodes"])
    error_message = "prod must have exactly one Cloud Run job per scenario."
  }

  assert {
    condition     = toset(keys(google_cloud_scheduler_job.scenario)) == toset(keys(google_cloud_run_v2_job.scenario))
    error_message = "Every job must have exactly one scheduler job."
  }


  assert {
    condition     = toset(keys(google_cloud_run_v2_job_iam_member.scheduler_invoker)) == toset(keys(google_cloud_run_v2_job.scenario))
    error_message = "The scheduler account must be an invoker of every job."
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
      nodes                 = "bacalhau-canary-nodes"
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
          CANARY_SCENARIO          = k
          CANARY_ENV               = "prod"
          CANARY_METRICS           = "gcp"
          CANARY_TIMEOUT           = "45s"
          CANARY_PUBLISHER         = "default"
          CANARY_SCHEDULE_INTERVAL = contains(["list", "nodes"], k) ? "1m" : (k == "submit" ? "2m" : "20m")
          CANARY_ENGINE            = "docker"
          CANARY_NODE_SELECTORS    = "owner=bacalhau"
          CANARY_LOCATION          = "europe-west1"
          GOOGLE_CLOUD_PROJECT     = "canary-test-project"
          BACALHAU_API_HOST        = "bootstrap.production.bacalhau.org"
          BACALHAU_API_PORT        = "1234"
          BACALHAU_API_TLS         = "true"
          BACALHAU_API_KEY_SECRET  = "projects/canary-test-project/secrets/bacalhau-api-key/versions/latest"
          CANARY_IMAGE             = "europe-west1-docker.pkg.dev/canary-test-project/bacalhau-canary/canary@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
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
    condition = { for k, s in google_cloud_scheduler_job.scenario : k => s.schedule } == {
      list                  = "* * * * *"
      nodes                 = "* * * * *"
      submit                = "*/2 * * * *"
      submitAndDescribe     = "*/20 * * * *"
      submitAndGet          = "*/20 * * * *"
      submitWithConcurrency = "*/20 * * * *"
    } && alltrue([for s in google_cloud_scheduler_job.scenario : s.region == "europe-west1"])
    error_message = "prod runs list and nodes every minute, submit every 2 minutes, the three heavier scenarios every 20 minutes."
  }

  assert {
    # Submitting jobs a day: submit 720 + 3 x 72 (list and nodes create none).
    condition     = sum([for k, s in google_cloud_run_v2_job.scenario : contains(["list", "nodes"], k) ? 0 : 1440 / tonumber(trimsuffix([for e in s.template[0].template[0].containers[0].env : e.value if e.name == "CANARY_SCHEDULE_INTERVAL"][0], "m"))]) <= 1071
    error_message = "prod must put at most 1,071 canary jobs a day on the network (at most 250 ms more on a list call with a weekly purge)."
  }

  assert {
    condition     = length(distinct([for s in google_cloud_scheduler_job.scenario : s.http_target[0].uri])) == length(google_cloud_scheduler_job.scenario)
    error_message = "No two scheduler jobs may target the same job."
  }
}

run "least_privilege" {
  command = plan

  assert {
    condition     = toset([for m in google_cloud_run_v2_job_iam_member.scheduler_invoker : m.role]) == toset(["roles/run.invoker"]) && alltrue([for m in google_cloud_run_v2_job_iam_member.scheduler_invoker : m.member == "serviceAccount:bacalhau-canary-sched@canary-test-project.iam.gserviceaccount.com"])
    error_message = "The only grant of this module: the scheduler account may invoke the jobs."
  }

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : j.template[0].template[0].service_account == "bacalhau-canary-run@canary-test-project.iam.gserviceaccount.com"])
    error_message = "The jobs run as the bootstrap's runtime account."
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
    condition = (
      length(google_monitoring_alert_policy.failing.conditions) +
      length(google_monitoring_alert_policy.stopped.conditions) +
      length(google_monitoring_alert_policy.canary.conditions)
    ) == 3
    error_message = "prod has three alert conditions in all ($4.50 a month)."
  }

  assert {
    condition = alltrue([for count in [
      "(sum by (job) (count_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"prod\", job=~\"list|nodes\"}[5m] offset 1m)) - sum by (job) (sum_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"prod\", job=~\"list|nodes\"}[5m] offset 1m))) >= 3",
      "(sum by (job) (count_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"prod\", job=~\"submit\"}[10m] offset 2m)) - sum by (job) (sum_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"prod\", job=~\"submit\"}[10m] offset 2m))) >= 3",
      "(sum by (job) (count_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"prod\", job=~\"submitAndDescribe|submitAndGet|submitWithConcurrency\"}[100m] offset 20m)) - sum by (job) (sum_over_time({\"custom.googleapis.com/bacalhau_canary/success\", monitored_resource=\"generic_task\", namespace=\"bacalhau-canary\", env=\"prod\", job=~\"submitAndDescribe|submitAndGet|submitWithConcurrency\"}[100m] offset 20m))) >= 3",
      ] : strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "(${count})")
    ])
    error_message = "Network failing: failed runs (0s of success) among each scenario's last 5 slots, grouped by job, over 5 minutes for the 1-minute scenarios, 10 for submit and 100 for the 20-minute ones."
  }

  assert {
    condition     = !strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "error_class") && !strcontains(google_monitoring_alert_policy.failing.conditions[0].condition_prometheus_query_language[0].query, "phase")
    error_message = "A failing series carries only its scenario: one incident per env and scenario, whatever the cause."
  }

  assert {
    condition     = length(regexall("\\[10080m\\]", google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query)) == 3
    error_message = "Stopped reporting looks back 7 days in each branch (one per schedule), so it keeps firing through a week of silence."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query, "job=~\"list|nodes\"}[5m]") && strcontains(google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query, "job=~\"submit\"}[10m]") && strcontains(google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query, "job=~\"submitAndDescribe|submitAndGet|submitWithConcurrency\"}[100m]") && strcontains(google_monitoring_alert_policy.stopped.conditions[0].condition_prometheus_query_language[0].query, "max by (job)")
    error_message = "Stopped reporting: per scenario (by job), after 5 of its own intervals without a recorded run."
  }

  assert {
    condition     = google_monitoring_alert_policy.failing.severity == "CRITICAL" && google_monitoring_alert_policy.canary.severity == "WARNING" && google_monitoring_alert_policy.stopped.severity == "WARNING"
    error_message = "Network failures page as CRITICAL; the canary's own problems are routed apart as WARNING."
  }

  assert {
    condition     = google_logging_metric.broken.name == "bacalhau-canary-broken" && strcontains(google_logging_metric.broken.filter, "jsonPayload.error_class=\"canary\"") && strcontains(google_logging_metric.broken.filter, "jsonPayload.message=\"result not recorded\"")
    error_message = "Canary broken counts class canary and unrecorded results from the result log line."
  }

  assert {
    condition     = strcontains(google_logging_metric.broken.filter, "(resource.labels.job_name=\"bacalhau-canary-list\" OR resource.labels.job_name=\"bacalhau-canary-nodes\" OR resource.labels.job_name=\"bacalhau-canary-submit\" OR ") && !strcontains(google_logging_metric.broken.filter, "job_name:")
    error_message = "Canary broken matches the scenario jobs by exact name, never the gate's jobs."
  }

  assert {
    condition     = google_monitoring_alert_policy.canary.conditions[0].condition_threshold[0].filter == "metric.type = \"logging.googleapis.com/user/bacalhau-canary-broken\" AND resource.type = \"cloud_run_job\"" && google_monitoring_alert_policy.canary.conditions[0].condition_threshold[0].aggregations[0].group_by_fields == tolist(["metric.label.job_name"])
    error_message = "Canary broken watches the log-based metric, one incident per job."
  }

  assert {
    condition     = alltrue([for p in [google_monitoring_alert_policy.failing, google_monitoring_alert_policy.stopped, google_monitoring_alert_policy.canary] : contains(p.alert_strategy[0].notification_prompts, "CLOSED")])
    error_message = "Policies must notify when the incident closes."
  }

  assert {
    condition = alltrue([
      for i, class in ["unavailable", "timeout", "certificate", "auth", "bad_request", "server", "protocol", "publisher", "job_failed", "output_mismatch", "concurrency", "canary"] :
      strcontains(google_monitoring_alert_policy.failing.documentation[0].content, "- ${i + 1} `${class}`: ")
    ])
    error_message = "The failing policy's documentation must have a runbook line per error class, headed by its cause code."
  }

  assert {
    condition     = google_monitoring_alert_policy.failing.documentation[0].subject == "Bacalhau canary $${metric.label.job} failing on prod, cause $${metric.label.value}" && strcontains(google_monitoring_alert_policy.failing.documentation[0].content, "Cause of the newest failed run: $${metric.label.value}") && strcontains(google_monitoring_alert_policy.failing.documentation[0].content, "4 `wait`") && !strcontains(google_monitoring_alert_policy.failing.documentation[0].content, "metric.label.error_class") && strcontains(google_monitoring_alert_policy.failing.documentation[0].content, "bacalhau job describe") && strcontains(google_monitoring_alert_policy.failing.documentation[0].content, "https://console.cloud.google.com/logs/query;query=")
    error_message = "Failing pages name the scenario and the cause code (documented variables), list the phase codes and link the failed runs' logs, where each run's class and phase are."
  }

  assert {
    condition = alltrue([
      for p in [google_monitoring_alert_policy.failing, google_monitoring_alert_policy.stopped] :
      strcontains(p.documentation[0].content, "https://console.cloud.google.com/monitoring/dashboards/builder/bacalhau-canary-prod?project=canary-test-project") &&
      p.documentation[0].links[0].url == "https://console.cloud.google.com/monitoring/dashboards/builder/bacalhau-canary-prod?project=canary-test-project"
    ])
    error_message = "The failing and stopped policies' documentation must link the dashboard."
  }

  assert {
    condition     = jsondecode(google_monitoring_dashboard.canary.dashboard_json).name == "projects/canary-test-project/dashboards/bacalhau-canary-prod"
    error_message = "The dashboard ID the documentation links to must be the dashboard's."
  }
}

run "canary_channel_routed_apart" {
  command = plan

  variables {
    canary_alert_channel = "projects/canary-test-project/notificationChannels/42"
  }

  assert {
    condition     = google_monitoring_alert_policy.canary.notification_channels == tolist(["projects/canary-test-project/notificationChannels/42"]) && google_monitoring_alert_policy.stopped.notification_channels == tolist(["projects/canary-test-project/notificationChannels/42"])
    error_message = "canary_alert_channel receives the canary's own problems."
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
      toset(["list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency", "nodes"]),
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

run "prod_runs_within_their_slot" {
  command = plan

  assert {
    condition     = alltrue([for j in google_cloud_run_v2_job.scenario : { for e in j.template[0].template[0].containers[0].env : e.name => e.value }["CANARY_TIMEOUT"] == "45s"])
    error_message = "prod runs list and nodes every minute, so its deadline stays below a minute."
  }
}

run "timeout_longer_than_interval_rejected" {
  command = plan

  variables {
    canary_timeout = "90s"
  }

  expect_failures = [google_cloud_run_v2_job.scenario]
}

run "gate_env_prod" {
  command = plan

  assert {
    condition     = toset(keys(output.gate_env_vars)) == toset([for j in google_cloud_run_v2_job.scenario : trimprefix(j.name, "bacalhau-canary-")]) && length(output.gate_env_vars) == length(google_cloud_run_v2_job.scenario)
    error_message = "The gate runs every enabled scenario of prod."
  }

  assert {
    condition = alltrue([
      for pair in ["CANARY_SCENARIO=submitAndGet", "CANARY_METRICS=none", "CANARY_ENV=prod", "BACALHAU_API_TLS=true"] :
      contains(split("@", trimprefix(output.gate_env_vars["submit-and-get"], "^@^")), pair)
    ]) && !strcontains(output.gate_env_vars["submit-and-get"], "CANARY_IMAGE=")
    error_message = "gate_env_vars carry each scenario's own environment, record nothing and leave the image to the run."
  }

  assert {
    condition     = length(split("\n", output.gate_runs)) == length(google_cloud_run_v2_job.scenario) && alltrue([for line in split("\n", output.gate_runs) : can(regex("^[a-z][a-z0-9-]* \\^@\\^[A-Z_]+=", line))])
    error_message = "gate_runs has one \"<slug> <environment>\" line per scenario, as scripts/deploy-gate.sh reads it."
  }
}

run "slo_per_scenario" {
  command = plan

  assert {
    condition     = toset(keys(google_monitoring_slo.scenario)) == toset(keys(google_cloud_run_v2_job.scenario))
    error_message = "Every scenario has one SLO."
  }

  assert {
    condition = alltrue([for k, s in google_monitoring_slo.scenario : (
      s.service == google_monitoring_custom_service.canary.service_id &&
      "bacalhau-canary-${s.slo_id}" == google_cloud_run_v2_job.scenario[k].name &&
      s.goal == 0.99 &&
      s.rolling_period_days == 28 &&
      s.calendar_period == null &&
      length(s.request_based_sli) == 0 && length(s.basic_sli) == 0
    )])
    error_message = "Each SLO belongs to the canary's custom service, has the default goal 0.99 over a 28-day rolling period and is windows-based."
  }

  assert {
    condition = alltrue([for k, s in google_monitoring_slo.scenario : (
      s.windows_based_sli[0].window_period == (contains(["list", "nodes"], k) ? "60s" : (k == "submit" ? "120s" : "1200s")) &&
      s.windows_based_sli[0].metric_mean_in_range[0].time_series == "metric.type = \"custom.googleapis.com/bacalhau_canary/success\" AND resource.type = \"generic_task\" AND resource.label.job = \"${k}\" AND metric.label.env = \"prod\"" &&
      s.windows_based_sli[0].metric_mean_in_range[0].range[0].min == 1 &&
      s.windows_based_sli[0].metric_mean_in_range[0].range[0].max == 2 &&
      s.windows_based_sli[0].good_bad_metric_filter == null
    )])
    error_message = "A window is one schedule slot of the scenario, good when its success point is 1."
  }

  assert {
    condition = [for t in jsondecode(google_monitoring_dashboard.canary.dashboard_json).mosaicLayout.tiles : [
      for d in t.widget.xyChart.dataSets : d.timeSeriesQuery.timeSeriesFilter.filter
    ] if startswith(t.widget.title, "Error budget left")] == [[for k in sort(keys(google_monitoring_slo.scenario)) : "select_slo_budget_fraction(\"projects/canary-test-project/services/bacalhau-canary/serviceLevelObjectives/${google_monitoring_slo.scenario[k].slo_id}\")"]]
    error_message = "One error-budget chart charts every scenario's SLO by its name."
  }

  assert {
    condition = (
      length(google_monitoring_alert_policy.failing.conditions) +
      length(google_monitoring_alert_policy.stopped.conditions) +
      length(google_monitoring_alert_policy.canary.conditions)
    ) == 3 && alltrue([for p in [google_monitoring_alert_policy.failing, google_monitoring_alert_policy.stopped, google_monitoring_alert_policy.canary] : !strcontains(jsonencode(p.conditions), "select_slo")])
    error_message = "The SLOs add no paging condition."
  }
}

run "slo_goal_from_variable" {
  command = plan

  variables {
    slo_goal = 0.995
  }

  assert {
    condition     = alltrue([for s in google_monitoring_slo.scenario : s.goal == 0.995 && strcontains(s.display_name, "99.5%")])
    error_message = "slo_goal sets every SLO's goal."
  }
}

run "failed_runs_log_panel" {
  command = plan

  assert {
    condition = [for t in jsondecode(google_monitoring_dashboard.canary.dashboard_json).mosaicLayout.tiles : t.widget.logsPanel if can(t.widget.logsPanel)] == [{
      filter        = "resource.type=\"cloud_run_job\" AND (${join(" OR ", [for k in sort(keys(google_cloud_run_v2_job.scenario)) : "resource.labels.job_name=\"${google_cloud_run_v2_job.scenario[k].name}\""])}) AND jsonPayload.message=\"scenario failed\""
      resourceNames = ["projects/canary-test-project"]
    }]
    error_message = "One logs panel shows the result lines of every scenario's failed runs in the project."
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.failing.documentation[0].content, urlencode("resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"bacalhau-canary-submit\" AND jsonPayload.message=\"scenario failed\""))
    error_message = "The page links each scenario's failed result lines with the panel's filter."
  }
}

run "server_version_beside_success" {
  command = plan

  assert {
    condition = alltrue([for k in keys(google_cloud_run_v2_job.scenario) : length([
      for t in jsondecode(google_monitoring_dashboard.canary.dashboard_json).mosaicLayout.tiles : t
      if t.widget.title == "${k}: server version" &&
      t.xPos == 12 &&
      t.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter == "metric.type = \"custom.googleapis.com/bacalhau_canary/server_version\" AND resource.type = \"generic_task\" AND resource.label.job = \"${k}\" AND metric.label.env = \"prod\"" &&
      t.widget.xyChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation.groupByFields == ["metric.label.version"]
    ]) == 1])
    error_message = "Every scenario charts its server version, by version, right beside its alert chart."
  }

  assert {
    condition     = google_monitoring_metric_descriptor.catalogue["server_version"].type == "custom.googleapis.com/bacalhau_canary/server_version" && toset([for l in google_monitoring_metric_descriptor.catalogue["server_version"].labels : l.key]) == toset(["env", "version"])
    error_message = "server_version is a metric type of its own with the labels env and version."
  }
}
