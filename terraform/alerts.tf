locals {
  # Time-series filters, per scenario and metric, in the one form every
  # policy and chart uses (checked by the offline Go test).
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

  window_seconds = local.settings.window_runs * local.interval_minutes * 60

  error_classes = [
    { name = "unavailable", runbook = "the API did not answer (DNS, refused connection): check the orchestrator's host, load balancer and DNS; other scenarios failing the same way confirm an outage." },
    { name = "timeout", runbook = "a call or the whole scenario exceeded CANARY_TIMEOUT: look at which phase grew on the dashboard (wait = scheduling or compute nodes slow, submit = orchestrator slow)." },
    { name = "auth", runbook = "the API refused the canary's credentials (401/403): check the API key secret's latest version and the network's auth configuration." },
    { name = "bad_request", runbook = "the API rejected the request (4xx): usually an API change on the network; compare the network's version with the client's." },
    { name = "server", runbook = "the orchestrator answered 5xx: check its logs and health." },
    { name = "protocol", runbook = "the reply was malformed or incomplete: look for a version mismatch or a proxy in between." },
    { name = "publisher", runbook = "the API worked but the job's published result could not be fetched: the result URL a compute node advertised is unroutable from the canary or refused (loopback, link-local, metadata address), the publisher answered 4xx/5xx, or the archive is not what was published. Check the network's publisher configuration (CANARY_PUBLISHER; the local publisher's advertised address must be reachable from the canary) and the storage behind it, not the orchestrator API." },
    { name = "job_failed", runbook = "the canary job ran but failed or ended in a bad state: check the compute nodes matching the node selectors (e.g. owner=bacalhau) and their executors." },
    { name = "output_mismatch", runbook = "the job completed but its results differ from the expected text: check the publisher and result download path." },
    { name = "concurrency", runbook = "a count=3 job did not get 3 completed executions on 3 distinct nodes: check that at least 3 matching compute nodes are up." },
    { name = "canary", runbook = "a bug or misconfiguration of the canary itself: read the run's log line and the job's environment; not a network problem." },
  ]
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

  depends_on = [google_project_service.required]
}

# "At least 3 of the last 5 runs failed, a missing run counts as failed",
# as a threshold on the success metric (1 per passed run, 0 per failed run,
# nothing for a run that never recorded): summed over a rolling window of 5
# schedule intervals it is the number of passed runs, and the policy fires
# when that is below window - failed + 1 (fewer than 3 passes out of 5).
# A missing run adds nothing to the sum, so it counts as failed for free;
# EVALUATION_MISSING_DATA_ACTIVE makes a window with no point at all fire
# too. A filter-based threshold was chosen over MQL (deprecated for new
# policies) and PromQL because it keeps the one filter form of the
# dashboard, which the offline test checks against the metric catalogue.
# Points are stamped when a run ends, so when run durations differ a lot
# between runs the window can hold 4 or 6 points instead of 5: 5 passes
# never drop below 3, but 2 failures next to a short window can fire one
# run early. Long runs are what the duration charts are for.
resource "google_monitoring_alert_policy" "failing" {
  for_each = local.scenarios

  project               = var.project_id
  display_name          = "Bacalhau canary ${each.key} failing (${var.env})"
  combiner              = "OR"
  severity              = local.settings.severity
  notification_channels = [google_monitoring_notification_channel.slack.id]
  user_labels           = merge(local.labels, { scenario = each.value.slug })

  conditions {
    display_name = "${each.key}: at least ${local.settings.failed_runs} of the last ${local.settings.window_runs} runs failed"

    condition_threshold {
      filter                  = local.filter[each.key].success
      comparison              = "COMPARISON_LT"
      threshold_value         = local.settings.window_runs - local.settings.failed_runs + 0.5
      duration                = "0s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_ACTIVE"

      aggregations {
        alignment_period     = "${local.window_seconds}s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.job", "metric.label.env"]
      }

      trigger {
        count = 1
      }
    }
  }

  # notification_rate_limit is left out: the API accepts it only for
  # log-match conditions. Notify when the incident opens and when it closes.
  alert_strategy {
    auto_close           = "1800s"
    notification_prompts = ["OPENED", "CLOSED"]
  }

  documentation {
    subject   = "Bacalhau canary ${each.key} failing on ${var.env}"
    mime_type = "text/markdown"
    content = templatefile("${path.module}/templates/alert.md.tftpl", {
      scenario         = each.key
      description      = each.value.description
      env              = var.env
      job_name         = each.value.job_name
      region           = var.region
      project_id       = var.project_id
      failed_runs      = local.settings.failed_runs
      window_runs      = local.settings.window_runs
      interval_minutes = local.interval_minutes
      dashboard_url    = local.dashboard_url
      error_classes    = local.error_classes
    })

    links {
      display_name = "Canary dashboard"
      url          = local.dashboard_url
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalogue]
}

# The canary stopped: a scenario recorded no success point at all (pass or
# fail) for absent_minutes.
resource "google_monitoring_alert_policy" "absent" {
  project               = var.project_id
  display_name          = "Bacalhau canary stopped reporting (${var.env})"
  combiner              = "OR"
  severity              = local.settings.severity
  notification_channels = [google_monitoring_notification_channel.slack.id]
  user_labels           = local.labels

  dynamic "conditions" {
    for_each = local.scenarios
    content {
      display_name = "${conditions.key}: no run recorded for ${local.settings.absent_minutes} min"

      condition_absent {
        filter   = local.filter[conditions.key].success
        duration = "${local.settings.absent_minutes * 60}s"

        aggregations {
          alignment_period   = "${local.interval_minutes * 60}s"
          per_series_aligner = "ALIGN_COUNT"
        }

        trigger {
          count = 1
        }
      }
    }
  }

  alert_strategy {
    auto_close           = "1800s"
    notification_prompts = ["OPENED", "CLOSED"]
  }

  documentation {
    subject   = "Bacalhau canary stopped reporting on ${var.env}"
    mime_type = "text/markdown"
    content = templatefile("${path.module}/templates/absent.md.tftpl", {
      env            = var.env
      name           = local.name
      region         = var.region
      absent_minutes = local.settings.absent_minutes
      dashboard_url  = local.dashboard_url
    })

    links {
      display_name = "Canary dashboard"
      url          = local.dashboard_url
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalogue]
}
