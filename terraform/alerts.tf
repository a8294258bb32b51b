locals {
  # Time-series filters, per scenario and metric, in the one form every
  # chart uses (checked by the offline Go test).
  filter = {
    for key, s in local.scenarios : key => {
      for metric in keys(local.metrics) : metric => join(" AND ", [
        "metric.type = \"${local.metric_prefix}${metric}\"",
        "resource.type = \"generic_task\"",
        "resource.label.job = \"${key}\"",
        "metric.label.env = \"${var.env}\"",
      ])
    }
  }

  # PromQL selector of one metric for the scenarios of one schedule.
  promql_selector = {
    for iv, keys in local.by_interval : iv => {
      for metric in keys(local.metrics) : metric => "{\"${local.metric_prefix}${metric}\", monitored_resource=\"generic_task\", namespace=\"${local.name}\", env=\"${var.env}\", job=~\"${join("|", keys)}\"}"
    }
  }

  # "Network failing": at least failed_runs of the scenario's last
  # window_runs scheduled runs failed. Every run's points are stamped on its
  # schedule slot (pkg/metrics/slot.go), so a range of window_runs intervals
  # holds exactly the runs of window_runs slots, one point per slot; the
  # failed ones are the 0s of success (count minus sum). A canary-class run
  # writes no success point, and a missing run adds nothing: neither is a
  # network failure ("canary broken" and "stopped reporting" page those).
  # The window is offset by one interval: at time T it holds the window_runs
  # slots before the current one, whose runs have all had at least an
  # interval to record, so a failure that records late still meets the
  # others in one evaluation. One branch per schedule, because the range
  # follows the interval.
  #
  # Each firing series carries only the scenario (job): a series is an
  # incident, so an outage is one incident per env and scenario however its
  # cause changes (a label that changed with the cause would close one
  # incident and open another, each notified). The cause is the series'
  # value instead, which is no part of its identity: the newest
  # failure_cause point of the scenario (class code * 100 + phase code,
  # pkg/metrics/cause.go) in the window and the current slot, or 0 when no
  # failure in them recorded one (an image older than failure_cause): the
  # "or" keeps the page either way. The body shows the value through the
  # variable metric.label.value and lists the codes. (For the few intervals
  # after a change of var.region, a scenario has two failure_cause series,
  # one per location, and max shows the larger code, not the newer.)
  failing_window = { for iv, _ in local.by_interval : iv => "[${local.settings.window_runs * tonumber(iv)}m] offset ${iv}m" }
  failing_count = {
    for iv, _ in local.by_interval : iv =>
    "(sum by (job) (count_over_time(${local.promql_selector[iv].success}${local.failing_window[iv]})) - sum by (job) (sum_over_time(${local.promql_selector[iv].success}${local.failing_window[iv]}))) >= ${local.settings.failed_runs}"
  }
  failing_cause = {
    for iv, _ in local.by_interval : iv =>
    "max by (job) (last_over_time(${local.promql_selector[iv].failure_cause}[${(local.settings.window_runs + 1) * tonumber(iv)}m]))"
  }
  failing_query = join(" or ", [
    for iv, _ in local.by_interval :
    "((${local.failing_cause[iv]} and on(job) (${local.failing_count[iv]})) or ((${local.failing_count[iv]}) * 0))"
  ])

  # "Stopped reporting": the scenario recorded in the last 7 days, but no
  # run at all (duration_seconds is written by every recorded run, canary
  # class included) in its last stopped_runs intervals. The 7-day lookback
  # keeps the incident open through a week of silence (a day closed it
  # while the canary was still dead); a scenario that never recorded
  # (a new one, a new project) does not page.
  stopped_lookback = "10080m"
  stopped_query = join(" or ", [
    for iv, keys in local.by_interval :
    "(max by (job) (last_over_time(${local.promql_selector[iv].duration_seconds}[${local.stopped_lookback}])) unless max by (job) (last_over_time(${local.promql_selector[iv].duration_seconds}[${local.settings.stopped_runs * tonumber(iv)}m])))"
  ])

  # Log-based metric of the canary's own failures: a result line of class
  # canary, a run whose result could not be recorded (exit 3), a job that
  # refused its configuration (exit 2, one stderr line "job: ...").
  # The scenario jobs are named exactly: a prefix would also match the deploy
  # gate's jobs (bacalhau-canary-ENV-gate-*), whose failures are the gate's
  # verdict on an image, not a broken canary.
  broken_log_filter = join(" AND ", [
    "resource.type=\"cloud_run_job\"",
    "(${join(" OR ", [for k in sort(keys(local.scenarios)) : "resource.labels.job_name=\"${local.scenarios[k].job_name}\""])})",
    "(jsonPayload.error_class=\"canary\" OR jsonPayload.message=\"result not recorded\" OR textPayload:\"job: \")",
  ])
  broken_metric = "logging.googleapis.com/user/${local.name}-broken"

  # A failed run's result line: the runner's one line per run
  # (pkg/scenarios/runner.go), "scenario failed" when the run failed. The
  # line "result not recorded" also carries success=false, so the message,
  # not the field, picks the result line.
  failed_result_line = "jsonPayload.message=\"scenario failed\""

  # Logs Explorer links to each scenario's failed runs, and the dashboard's
  # panel of every scenario's.
  failed_runs_query = {
    for key, s in local.scenarios : key => "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"${s.job_name}\" AND ${local.failed_result_line}"
  }
  failed_runs_all_query = join(" AND ", [
    "resource.type=\"cloud_run_job\"",
    "(${join(" OR ", [for k in sort(keys(local.scenarios)) : "resource.labels.job_name=\"${local.scenarios[k].job_name}\""])})",
    local.failed_result_line,
  ])
  failed_runs_url = {
    for key, q in local.failed_runs_query : key => "https://console.cloud.google.com/logs/query;query=${urlencode(q)}?project=${var.project_id}"
  }

  # Each class's runbook line, from pkg/scenarios (scenarios.json's
  # classes, generated: `go generate ./internal/catalogue`).
  error_classes = jsondecode(file("${path.module}/scenarios.json")).classes
  # failure_cause's phase codes, from the same file.
  cause_phases = jsondecode(file("${path.module}/scenarios.json")).cause_phases
}

ephemeral "google_secret_manager_secret_version" "slack_token" {
  project = var.project_id
  secret  = var.slack_token_secret_id
  version = var.slack_token_secret_version
}

resource "google_monitoring_notification_channel" "slack" {
  project      = var.project_id
  display_name = "Bacalhau canary Slack (${var.env})"
  type         = "slack"
  labels = {
    channel_name = "#${trimprefix(var.slack_channel_name, "#")}"
  }
  user_labels = local.labels

  # The token goes through the write-only attribute only: it is read from
  # Secret Manager at apply time and never lands in the plan or the state.
  # Bumping slack_token_secret_version sends the new one.
  sensitive_labels {
    auth_token_wo         = ephemeral.google_secret_manager_secret_version.slack_token.secret_data
    auth_token_wo_version = var.slack_token_secret_version
  }

}

# At most three conditions per env ($4.50 a month): each matches every
# scenario of the env and yields one series per scenario (label job), so
# each scenario opens and closes its own incident.
resource "google_monitoring_alert_policy" "failing" {
  project               = var.project_id
  display_name          = "Bacalhau canary: network failing (${var.env})"
  combiner              = "OR"
  severity              = local.settings.severity
  notification_channels = [google_monitoring_notification_channel.slack.id]
  user_labels           = merge(local.labels, { kind = "failing" })

  conditions {
    display_name = "at least ${local.settings.failed_runs} of the last ${local.settings.window_runs} scheduled runs failed"

    condition_prometheus_query_language {
      query               = local.failing_query
      duration            = "0s"
      evaluation_interval = "30s"
      labels              = { env = var.env }
    }
  }

  # notification_rate_limit is left out: the API accepts it only for
  # log-match conditions. Notify when the incident opens and when it closes.
  alert_strategy {
    auto_close           = "1800s"
    notification_prompts = ["OPENED", "CLOSED"]
  }

  documentation {
    # Variables, as Google documents them for a PromQL condition's result:
    # metric.label.job is the firing series' one label ("Variables in
    # documentation templates", https://cloud.google.com/monitoring/alerts/doc-variables),
    # and metric.label.value its value, the cause code (see failing_query):
    # Prometheus's {{ $value }} is that variable ("Migrate alerting rules and
    # receivers from Prometheus", section "Google Cloud documentation
    # variables in migrated Prometheus alerting rules",
    # https://cloud.google.com/monitoring/promql/promql-migrate; gcloud's
    # migrate command translates {{ $value }} so).
    subject   = "Bacalhau canary $${metric.label.job} failing on ${var.env}, cause $${metric.label.value}"
    mime_type = "text/markdown"
    content = templatefile("${path.module}/templates/alert.md.tftpl", {
      env           = var.env
      region        = var.region
      project_id    = var.project_id
      failed_runs   = local.settings.failed_runs
      window_runs   = local.settings.window_runs
      scenarios     = local.scenarios
      failed_urls   = local.failed_runs_url
      dashboard_url = local.dashboard_url
      error_classes = local.error_classes
      cause_phases  = local.cause_phases
    })

    links {
      display_name = "Canary dashboard"
      url          = local.dashboard_url
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalogue]
}

resource "google_monitoring_alert_policy" "stopped" {
  project               = var.project_id
  display_name          = "Bacalhau canary: stopped reporting (${var.env})"
  combiner              = "OR"
  severity              = local.settings.canary_severity
  notification_channels = [coalesce(var.canary_alert_channel, google_monitoring_notification_channel.slack.id)]
  user_labels           = merge(local.labels, { kind = "stopped" })

  conditions {
    display_name = "no run recorded for ${local.settings.stopped_runs} intervals"

    condition_prometheus_query_language {
      query               = local.stopped_query
      duration            = "0s"
      evaluation_interval = "60s"
      labels              = { env = var.env }
    }
  }

  alert_strategy {
    auto_close           = "1800s"
    notification_prompts = ["OPENED", "CLOSED"]
  }

  documentation {
    subject   = "Bacalhau canary $${metric.label.job} stopped reporting on ${var.env}"
    mime_type = "text/markdown"
    content = templatefile("${path.module}/templates/absent.md.tftpl", {
      env           = var.env
      name          = local.name
      region        = var.region
      stopped_runs  = local.settings.stopped_runs
      scenarios     = local.scenarios
      dashboard_url = local.dashboard_url
    })

    links {
      display_name = "Canary dashboard"
      url          = local.dashboard_url
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalogue]
}

# The canary's own failures, counted from its log: they cannot report
# through the metric whose write failed.
resource "google_logging_metric" "broken" {
  project     = var.project_id
  name        = "${local.name}-broken"
  description = "Bacalhau canary runs that failed for the canary's own reasons: class canary, result not recorded (exit 3), configuration refused (exit 2)."
  filter      = local.broken_log_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Bacalhau canary broken runs"

    labels {
      key         = "job_name"
      value_type  = "STRING"
      description = "Cloud Run job of the run (bacalhau-canary-<scenario>)."
    }
  }

  label_extractors = {
    job_name = "EXTRACT(resource.labels.job_name)"
  }

}

# A policy on a log-based metric created moments before fails with HTTP 404
# ("Cannot find metric(s) ... it could take up to 10 minutes to become
# available") for up to 10 minutes: hashicorp/terraform-provider-google
# issue 11102. The policy waits those 10 minutes once, when the metric is
# created (or replaced), so the first apply succeeds; later applies, which
# find the metric in place, do not wait. terraform_data is built into
# Terraform and OpenTofu: no other provider.
resource "terraform_data" "broken_metric_visible" {
  triggers_replace = [google_logging_metric.broken.id]

  provisioner "local-exec" {
    command = "sleep 600"
  }
}

resource "google_monitoring_alert_policy" "canary" {
  project               = var.project_id
  display_name          = "Bacalhau canary: canary broken (${var.env})"
  combiner              = "OR"
  severity              = local.settings.canary_severity
  notification_channels = [coalesce(var.canary_alert_channel, google_monitoring_notification_channel.slack.id)]
  user_labels           = merge(local.labels, { kind = "canary" })

  conditions {
    display_name = "a run failed for the canary's own reasons"

    condition_threshold {
      filter          = "metric.type = \"${local.broken_metric}\" AND resource.type = \"cloud_run_job\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.job_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close           = "1800s"
    notification_prompts = ["OPENED", "CLOSED"]
  }

  documentation {
    subject   = "Bacalhau canary $${metric.label.job_name} broken on ${var.env} (not a network failure)"
    mime_type = "text/markdown"
    content = join("\n", [
      "A **${var.env}** canary run failed for the canary's own reasons: class `canary` (Secret Manager unreadable, SIGTERM, a canary bug), its result could not be written to Cloud Monitoring (exit 3), or it refused its configuration (exit 2). The Bacalhau network is not known to be failing.",
      "",
      "Logs: https://console.cloud.google.com/logs/query;query=${urlencode(local.broken_log_filter)}?project=${var.project_id}",
      "",
      "Check the run's log line (`error`), the job's environment and the runtime account's roles (`roles/monitoring.metricWriter`, access to the API key secret).",
    ])
  }

  depends_on = [terraform_data.broken_metric_visible]
}
