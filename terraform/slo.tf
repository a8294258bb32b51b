# One windows-based SLO per scenario, on its success metric, over a 28-day
# rolling period: a window is one schedule slot (window_period = the
# scenario's interval), and every run's points are stamped on its slot
# (pkg/metrics/slot.go), so each window holds at most the one run of its
# slot and is good exactly when that run passed. A run of class canary
# writes no success point and a missing run writes nothing: those windows
# hold no verdict on the network ("canary broken" and "stopped reporting"
# page them). The SLOs page nobody: their error budgets are charted on the
# dashboard; the three alert conditions stay the only ones.
locals {
  slo_rolling_days = 28
  slo_service_id   = local.name
  # The SLOs' resource names, known at plan: the dashboard's budget chart
  # selects them by name.
  slo_names = {
    for key, s in local.scenarios : key => "projects/${var.project_id}/services/${local.slo_service_id}/serviceLevelObjectives/${s.slug}"
  }
}

resource "google_monitoring_custom_service" "canary" {
  project      = var.project_id
  service_id   = local.slo_service_id
  display_name = "Bacalhau network as the canary sees it (${var.env})"
  user_labels  = local.labels

}

resource "google_monitoring_slo" "scenario" {
  for_each = local.scenarios

  project             = var.project_id
  service             = google_monitoring_custom_service.canary.service_id
  slo_id              = each.value.slug
  display_name        = "${each.key}: ${var.slo_goal * 100}% of scheduled runs pass (${local.slo_rolling_days} days)"
  goal                = var.slo_goal
  rolling_period_days = local.slo_rolling_days
  user_labels         = merge(local.labels, { scenario = each.value.slug })

  windows_based_sli {
    window_period = "${each.value.interval_seconds}s"

    # success is 1 or 0 and a window holds one slot's point: [1, 2) holds
    # a pass and not a failure, whether the API reads the range as
    # min <= x < max or min <= x <= max.
    metric_mean_in_range {
      time_series = local.filter[each.key].success
      range {
        min = 1
        max = 2
      }
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalogue]
}
