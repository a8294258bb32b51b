locals {
  dashboard_columns = 48
  # Widths of a scenario row's charts: the alert, the server version beside
  # it, duration, phases, failures (48 columns).
  chart_widths   = [12, 6, 10, 10, 10]
  chart_height   = 16
  header_height  = 4
  intro_height   = 6
  row_height     = local.header_height + local.chart_height
  scenario_order = sort(keys(local.scenarios))
  # Per-scenario PromQL of the alert: failed runs and recorded runs in the
  # scenario's window, the exact expressions of the "network failing"
  # condition (one selector per scenario).
  chart_selector = {
    for key, s in local.scenarios : key => {
      for metric in keys(local.metrics) : metric => "{\"${local.metric_prefix}${metric}\", monitored_resource=\"generic_task\", namespace=\"${local.name}\", env=\"${var.env}\", job=~\"${key}\"}"
    }
  }
  chart_window = { for key, s in local.scenarios : key => "${local.settings.window_runs * s.interval_minutes}m" }

  # One row per scenario: a section header, then success rate, duration,
  # phase breakdown and failed runs by class and phase.
  scenario_charts = {
    for key in local.scenario_order : key => [
      {
        title = "${key}: failed of the last ${local.settings.window_runs} runs (the alert)"
        xyChart = {
          dataSets = [
            {
              plotType       = "LINE"
              legendTemplate = "failed runs"
              timeSeriesQuery = {
                prometheusQuery = "sum by (job) (count_over_time(${local.chart_selector[key].success}[${local.chart_window[key]}] offset ${local.scenarios[key].interval_minutes}m)) - sum by (job) (sum_over_time(${local.chart_selector[key].success}[${local.chart_window[key]}] offset ${local.scenarios[key].interval_minutes}m))"
              }
            },
            {
              plotType       = "LINE"
              legendTemplate = "runs recorded"
              timeSeriesQuery = {
                prometheusQuery = "sum by (job) (count_over_time(${local.chart_selector[key].duration_seconds}[${local.chart_window[key]}] offset ${local.scenarios[key].interval_minutes}m))"
              }
            },
          ]
          thresholds = [{
            label     = "pages at"
            value     = local.settings.failed_runs
            color     = "RED"
            direction = "ABOVE"
          }]
          yAxis        = { label = "runs", scale = "LINEAR" }
          chartOptions = { mode = "COLOR" }
        }
      },
      {
        # Beside the alert: which Bacalhau version answered each run (an
        # upgrade that broke the canary shows as a new colour where the
        # failures start). Old images write no server_version.
        title = "${key}: server version"
        xyChart = {
          dataSets = [{
            plotType       = "STACKED_BAR"
            legendTemplate = "$${metric.labels.version}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = local.filter[key].server_version
                aggregation = {
                  alignmentPeriod    = "${local.scenarios[key].interval_seconds}s"
                  perSeriesAligner   = "ALIGN_MAX"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["metric.label.version"]
                }
              }
            }
          }]
          yAxis        = { label = "runs", scale = "LINEAR" }
          chartOptions = { mode = "COLOR" }
        }
      },
      {
        title = "${key}: duration"
        xyChart = {
          dataSets = [{
            plotType       = "LINE"
            legendTemplate = key
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = local.filter[key].duration_seconds
                aggregation = {
                  alignmentPeriod    = "${local.scenarios[key].interval_seconds}s"
                  perSeriesAligner   = "ALIGN_MEAN"
                  crossSeriesReducer = "REDUCE_MEAN"
                  groupByFields      = ["resource.label.job"]
                }
              }
            }
          }]
          yAxis        = { label = "seconds", scale = "LINEAR" }
          chartOptions = { mode = "COLOR" }
        }
      },
      {
        title = "${key}: phases, slowest run (${join(", ", local.scenarios[key].phases)})"
        xyChart = {
          dataSets = [{
            plotType       = "STACKED_AREA"
            legendTemplate = "$${metric.labels.phase}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = local.filter[key].phase_duration_seconds
                aggregation = {
                  alignmentPeriod    = "${local.scenarios[key].interval_seconds}s"
                  perSeriesAligner   = "ALIGN_MAX"
                  crossSeriesReducer = "REDUCE_MAX"
                  groupByFields      = ["metric.label.phase"]
                }
              }
            }
          }]
          yAxis        = { label = "seconds", scale = "LINEAR" }
          chartOptions = { mode = "COLOR" }
        }
      },
      {
        title = "${key}: failed runs by class and phase, API calls retried"
        xyChart = {
          dataSets = [
            {
              plotType       = "STACKED_BAR"
              legendTemplate = "$${metric.labels.error_class} in $${metric.labels.phase}"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  # failed_run's value is a minute stamp: count its points.
                  filter = local.filter[key].failed_run
                  aggregation = {
                    alignmentPeriod    = "${local.scenarios[key].interval_seconds}s"
                    perSeriesAligner   = "ALIGN_COUNT"
                    crossSeriesReducer = "REDUCE_SUM"
                    groupByFields      = ["metric.label.error_class", "metric.label.phase"]
                  }
                }
              }
            },
            {
              # Calls repeated after a transient fault (api_retries): a
              # path that drops requests shows here before it fails runs.
              plotType       = "LINE"
              legendTemplate = "API calls retried"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = local.filter[key].api_retries
                  aggregation = {
                    alignmentPeriod    = "${local.scenarios[key].interval_seconds}s"
                    perSeriesAligner   = "ALIGN_SUM"
                    crossSeriesReducer = "REDUCE_SUM"
                    groupByFields      = ["resource.label.job"]
                  }
                }
              }
            },
          ]
          yAxis        = { label = "failed runs, retried calls", scale = "LINEAR" }
          chartOptions = { mode = "COLOR" }
        }
      },
    ]
  }

  # The last row: every scenario's SLO error budget (slo.tf) and the result
  # lines of every scenario's failed runs (failed phase, class, error, job
  # ID: what the metrics cannot carry).
  footer_y = local.intro_height + length(local.scenario_order) * local.row_height
  footer_tiles = [
    {
      xPos   = 0
      yPos   = local.footer_y
      width  = local.dashboard_columns
      height = local.header_height
      widget = {
        title = "Error budget and failed runs"
        sectionHeader = {
          subtitle     = "SLO per scenario: ${var.slo_goal * 100}% of its scheduled runs pass over ${local.slo_rolling_days} days (no page)."
          dividerBelow = true
        }
      }
    },
    {
      xPos   = 0
      yPos   = local.footer_y + local.header_height
      width  = local.dashboard_columns / 2
      height = local.chart_height
      widget = {
        title = "Error budget left (${local.slo_rolling_days}-day SLO, goal ${var.slo_goal * 100}%)"
        xyChart = {
          dataSets = [
            for key in local.scenario_order : {
              plotType       = "LINE"
              legendTemplate = key
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = "select_slo_budget_fraction(\"${local.slo_names[key]}\")"
                  aggregation = {
                    alignmentPeriod  = "3600s"
                    perSeriesAligner = "ALIGN_MEAN"
                  }
                }
              }
            }
          ]
          thresholds = [{
            label     = "budget spent"
            value     = 0
            color     = "RED"
            direction = "BELOW"
          }]
          yAxis        = { label = "fraction of the budget left", scale = "LINEAR" }
          chartOptions = { mode = "COLOR" }
        }
      }
    },
    {
      xPos   = local.dashboard_columns / 2
      yPos   = local.footer_y + local.header_height
      width  = local.dashboard_columns / 2
      height = local.chart_height
      widget = {
        title = "Failed runs: their result lines"
        logsPanel = {
          filter        = local.failed_runs_all_query
          resourceNames = ["projects/${var.project_id}"]
        }
      }
    },
  ]

  # Below the footer: the node census of the scenarios that take one (the
  # nodes scenario every run, submitWithConcurrency when it fails for lack
  # of nodes), the compute nodes that could run the canary's job by Bacalhau
  # version, against what submitWithConcurrency needs.
  census_scenarios = [for k in try(local.metrics.compute_nodes.written_by, []) : k if contains(keys(local.scenarios), k)]
  census_tiles = length(local.census_scenarios) == 0 ? [] : [{
    xPos   = 0
    yPos   = local.footer_y + local.header_height + local.chart_height
    width  = local.dashboard_columns
    height = local.chart_height
    widget = {
      title = "Compute nodes that could run the canary's job (node census), by version"
      xyChart = {
        dataSets = [
          for key in local.census_scenarios : {
            plotType       = "LINE"
            legendTemplate = "${key}: $${metric.labels.version} $${metric.labels.engine}"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = local.filter[key].compute_nodes
                aggregation = {
                  alignmentPeriod    = "${local.scenarios[key].interval_seconds}s"
                  perSeriesAligner   = "ALIGN_MIN"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["metric.label.version", "metric.label.engine"]
                }
              }
            }
          }
        ]
        thresholds = [{
          label     = "submitWithConcurrency needs"
          value     = 3
          color     = "RED"
          direction = "BELOW"
        }]
        yAxis        = { label = "nodes", scale = "LINEAR" }
        chartOptions = { mode = "COLOR" }
      }
    }
  }]

  # Naming the dashboard fixes its ID, so the alert documentation can link
  # to it before it exists (the provider ignores `name` when diffing).
  dashboard_id = "${local.name}-${var.env}"

  dashboard = {
    name        = "projects/${var.project_id}/dashboards/${local.dashboard_id}"
    displayName = "Bacalhau canary (${var.env})"
    mosaicLayout = {
      columns = local.dashboard_columns
      tiles = concat(
        [{
          xPos   = 0
          yPos   = 0
          width  = local.dashboard_columns
          height = local.intro_height
          widget = {
            title = "About"
            text = {
              format = "MARKDOWN"
              content = join("\n", [
                "Bacalhau canary on **${var.env}** (`${local.settings.bacalhau_api_host}:${local.settings.bacalhau_api_port}`): ${join(", ", [for k in local.scenario_order : "${k} every ${local.scenarios[k].interval_minutes} min"])}.",
                "\"Network failing\" pages when at least ${local.settings.failed_runs} of the last ${local.settings.window_runs} scheduled runs of a scenario failed (the first chart of each row, same query and threshold); a run of class canary or a missing run is not a network failure.",
                "Scenarios: ${join(", ", local.scenario_order)}.",
              ])
            }
          }
        }],
        flatten([
          for i, key in local.scenario_order : concat(
            [{
              xPos   = 0
              yPos   = local.intro_height + i * local.row_height
              width  = local.dashboard_columns
              height = local.header_height
              widget = {
                title = key
                sectionHeader = {
                  subtitle     = local.scenarios[key].doc
                  dividerBelow = true
                }
              }
            }],
            [
              for j, chart in local.scenario_charts[key] : {
                xPos   = j == 0 ? 0 : sum(slice(local.chart_widths, 0, j))
                yPos   = local.intro_height + i * local.row_height + local.header_height
                width  = local.chart_widths[j]
                height = local.chart_height
                widget = chart
              }
            ],
          )
        ]),
        local.footer_tiles,
        local.census_tiles,
      )
    }
    labels = {
      bacalhau-canary = ""
    }
  }

  dashboard_json = jsonencode(local.dashboard)

  # Console link used by the alert documentation.
  dashboard_url = "https://console.cloud.google.com/monitoring/dashboards/builder/${local.dashboard_id}?project=${var.project_id}"
}

resource "google_monitoring_dashboard" "canary" {
  project        = var.project_id
  dashboard_json = local.dashboard_json

  depends_on = [google_monitoring_metric_descriptor.catalogue]
}
