provider "google" {
  project = var.project_id
  region  = var.region
}

locals {
  # The scenarios of the canary, keyed by their CANARY_SCENARIO value:
  # slug, one-line doc and the fixed phase list (the `phase` label values of
  # phase_duration_seconds). Generated from the Go registry
  # (go generate ./internal/catalogue); never edited here.
  scenario_catalogue = { for s in jsondecode(file("${path.module}/scenarios.json")).scenarios : s.name => s }

  # Per-env settings. Each env lives in its own project (names below do not
  # carry the env) and its own state prefix. interval_minutes is each
  # enabled scenario's schedule (minutes dividing an hour): the cron, the
  # job's CANARY_SCHEDULE_INTERVAL (its points are stamped on the slot) and
  # the N-of-M window follow it.
  envs = {
    prod = {
      bacalhau_api_host = "bootstrap.production.bacalhau.org"
      bacalhau_api_port = 1234
      bacalhau_api_tls  = true
      # The network's default publisher (CANARY_PUBLISHER=default): results
      # are fetched from wherever the network publishes them.
      publisher      = "default"
      engine         = "docker"
      node_selectors = "owner=bacalhau"
      # list and nodes (no job) every minute, submit every 2 minutes, the
      # heavier three every 20: 936 canary jobs a day, 6,552 a week, under
      # the bound of 1,071 (README: at most 250 ms more on any list call with
      # a weekly purge).
      interval_minutes = { list = 1, nodes = 1, submit = 2, submitAndDescribe = 20, submitAndGet = 20, submitWithConcurrency = 20 }
      # Below the shortest interval, so two runs of a scenario rarely overlap.
      canary_timeout = "45s"
      # Page when at least failed_runs of the last window_runs scheduled runs
      # failed; "stopped" when no run recorded for stopped_runs intervals.
      failed_runs     = 3
      window_runs     = 5
      stopped_runs    = 5
      severity        = "CRITICAL"
      canary_severity = "WARNING"
    }
    staging = {
      bacalhau_api_host = "bootstrap.staging.bacalhau.org"
      bacalhau_api_port = 1234
      bacalhau_api_tls  = true
      publisher         = "default"
      engine            = "docker"
      node_selectors    = "owner=bacalhau"
      interval_minutes  = { list = 5, nodes = 5, submit = 10, submitAndDescribe = 30, submitAndGet = 30, submitWithConcurrency = 30 }
      canary_timeout    = "90s"
      failed_runs       = 3
      window_runs       = 5
      stopped_runs      = 3
      severity          = "WARNING"
      canary_severity   = "WARNING"
    }
    dev = {
      bacalhau_api_host = "bootstrap.development.bacalhau.org"
      bacalhau_api_port = 1234
      # TLS as on prod and staging: the job refuses to send the API key in
      # clear text to a host that is not loopback (pkg/config), so without
      # it every dev run exited 2.
      bacalhau_api_tls = true
      # dev keeps the canary's own local publisher (the job's default).
      publisher        = "local"
      engine           = "docker"
      node_selectors   = ""
      interval_minutes = { list = 5, nodes = 5, submit = 15 }
      canary_timeout   = "90s"
      failed_runs      = 3
      window_runs      = 5
      stopped_runs     = 3
      severity         = "WARNING"
      canary_severity  = "WARNING"
    }
  }

  settings = merge(local.envs[var.env], {
    bacalhau_api_host = coalesce(var.bacalhau_api_host, local.envs[var.env].bacalhau_api_host)
    bacalhau_api_port = coalesce(var.bacalhau_api_port, local.envs[var.env].bacalhau_api_port)
    bacalhau_api_tls  = var.bacalhau_api_tls != null ? var.bacalhau_api_tls : local.envs[var.env].bacalhau_api_tls
    canary_timeout    = coalesce(var.canary_timeout, local.envs[var.env].canary_timeout)
    # var.interval_minutes overrides single scenarios' schedules; a scenario
    # missing from the env is enabled by naming it there.
    interval_minutes = merge(local.envs[var.env].interval_minutes, var.interval_minutes)
  })

  name = "bacalhau-canary"

  # The accounts made by the bootstrap (bootstrap/main.tf, local.accounts):
  # named here, never read, so the pipeline needs no IAM read on them.
  runtime_email   = "${local.name}-run@${var.project_id}.iam.gserviceaccount.com"
  scheduler_email = "${local.name}-sched@${var.project_id}.iam.gserviceaccount.com"

  # Enabled scenarios with their schedule and derived names: Cloud Run job
  # and scheduler names must be lowercase with hyphens (submitAndDescribe ->
  # bacalhau-canary-submit-and-describe).
  scenarios = {
    for key, minutes in local.settings.interval_minutes : key => merge(local.scenario_catalogue[key], {
      job_name         = "${local.name}-${local.scenario_catalogue[key].slug}"
      interval_minutes = minutes
      interval_seconds = minutes * 60
      schedule         = minutes == 1 ? "* * * * *" : (minutes == 60 ? "0 * * * *" : "*/${minutes} * * * *")
      window_seconds   = local.settings.window_runs * minutes * 60
    })
  }

  # Scenarios grouped by schedule: one PromQL branch per distinct interval.
  intervals = sort(distinct([for s in local.scenarios : format("%02d", s.interval_minutes)]))
  by_interval = {
    for iv in local.intervals : tonumber(iv) => sort([for k, s in local.scenarios : k if s.interval_minutes == tonumber(iv)])
  }
  shortest_interval_seconds = min([for s in local.scenarios : s.interval_seconds]...)

  canary_timeout_seconds = tonumber(trimsuffix(local.settings.canary_timeout, "s"))
  # The task gets a minute more than the scenario, so the canary can stop the
  # job it submitted and record its result before Cloud Run kills it.
  task_timeout = "${local.canary_timeout_seconds + 60}s"

  # Secret version name handed to the jobs (BACALHAU_API_KEY_SECRET).
  bacalhau_api_key_version = "projects/${var.project_id}/secrets/${var.bacalhau_api_key_secret_id}/versions/latest"

  # Metric catalogue shared with the Go code (pkg/metrics).
  catalogue     = jsondecode(file("${path.module}/metrics.json"))
  metric_prefix = local.catalogue.prefix
  metrics       = { for m in local.catalogue.metrics : m.name => m }

  labels = {
    app = local.name
    env = var.env
  }
}
