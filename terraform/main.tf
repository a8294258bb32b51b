provider "google" {
  project = var.project_id
  region  = var.region
}

locals {
  # The scenarios of the canary, keyed by their CANARY_SCENARIO value. phases
  # is the fixed phase list of each scenario (the `phase` label values of
  # phase_duration_seconds), used by the dashboard.
  scenario_catalogue = {
    list = {
      description = "List recent jobs (limit 10, newest first)."
      phases      = ["list"]
    }
    submit = {
      description = "Submit the canary job and wait for it to complete with exit code 0."
      phases      = ["submit", "wait"]
    }
    submitAndDescribe = {
      description = "Submit, wait, then read the job, its executions and its history, and check they agree."
      phases      = ["submit", "wait", "describe", "executions", "history"]
    }
    submitAndGet = {
      description = "Submit, wait, then download the results and compare stdout with the expected text."
      phases      = ["submit", "wait", "results", "download"]
    }
    submitWithConcurrency = {
      description = "Submit with count 3 and check 3 completed executions on 3 distinct nodes."
      phases      = ["submit", "wait", "executions"]
    }
  }

  # Per-env settings. Each env lives in its own project (names below do not
  # carry the env) and its own state prefix.
  envs = {
    prod = {
      bacalhau_api_host = "bootstrap.production.bacalhau.org"
      bacalhau_api_port = 1234
      bacalhau_api_tls  = false
      engine            = "docker"
      node_selectors    = "owner=bacalhau"
      schedule          = "* * * * *"
      # Below the minute between runs, so two runs never overlap.
      canary_timeout = "45s"
      scenarios      = ["list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"]
      # Alert when at least failed_runs of the last window_runs runs failed.
      failed_runs    = 3
      window_runs    = 5
      absent_minutes = 15
      severity       = "CRITICAL"
      build_trigger  = true
    }
    staging = {
      bacalhau_api_host = "bootstrap.staging.bacalhau.org"
      bacalhau_api_port = 1234
      bacalhau_api_tls  = false
      engine            = "docker"
      node_selectors    = "owner=bacalhau"
      schedule          = "*/5 * * * *"
      canary_timeout    = "90s"
      scenarios         = ["list", "submit", "submitAndDescribe", "submitAndGet", "submitWithConcurrency"]
      failed_runs       = 3
      window_runs       = 5
      absent_minutes    = 60
      severity          = "WARNING"
      build_trigger     = false
    }
    dev = {
      bacalhau_api_host = "bootstrap.development.bacalhau.org"
      bacalhau_api_port = 1234
      bacalhau_api_tls  = false
      engine            = "docker"
      node_selectors    = ""
      schedule          = "*/5 * * * *"
      canary_timeout    = "90s"
      scenarios         = ["list", "submit"]
      failed_runs       = 3
      window_runs       = 5
      absent_minutes    = 60
      severity          = "WARNING"
      build_trigger     = false
    }
  }

  settings = merge(local.envs[var.env], {
    bacalhau_api_host = coalesce(var.bacalhau_api_host, local.envs[var.env].bacalhau_api_host)
    bacalhau_api_port = coalesce(var.bacalhau_api_port, local.envs[var.env].bacalhau_api_port)
    bacalhau_api_tls  = var.bacalhau_api_tls != null ? var.bacalhau_api_tls : local.envs[var.env].bacalhau_api_tls
    schedule          = coalesce(var.schedule, local.envs[var.env].schedule)
    canary_timeout    = coalesce(var.canary_timeout, local.envs[var.env].canary_timeout)
  })

  # Minutes between two runs, read back from the every-N-minutes schedule.
  interval_minutes = local.settings.schedule == "* * * * *" ? 1 : tonumber(regex("^\\*/([0-9]+) ", local.settings.schedule)[0])

  name = "bacalhau-canary"

  # Enabled scenarios with their derived names: Cloud Run job and scheduler
  # names must be lowercase with hyphens (submitAndDescribe ->
  # bacalhau-canary-submit-and-describe).
  scenarios = {
    for key, s in local.scenario_catalogue : key => merge(s, {
      slug     = lower(replace(key, "/([A-Z])/", "-$1"))
      job_name = "${local.name}-${lower(replace(key, "/([A-Z])/", "-$1"))}"
    }) if contains(local.settings.scenarios, key)
  }

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
