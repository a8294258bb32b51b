locals {
  # The private CA's secret (bacalhau_api_tls_ca_secret_id; the pipeline
  # hands "" for none) and where it is mounted.
  api_ca_secret = var.bacalhau_api_tls_ca_secret_id == null ? "" : var.bacalhau_api_tls_ca_secret_id
  api_ca_dir    = "/etc/bacalhau-canary/api-ca"

  # Environment of each job, from the canary's external contract. Empty
  # values are left out.
  job_env = {
    for key, s in local.scenarios : key => {
      for name, value in {
        CANARY_SCENARIO  = key
        CANARY_ENV       = var.env
        CANARY_METRICS   = "gcp"
        CANARY_TIMEOUT   = local.settings.canary_timeout
        CANARY_PUBLISHER = local.settings.publisher
        # The slot the run's points are stamped on (pkg/metrics/slot.go).
        CANARY_SCHEDULE_INTERVAL = "${s.interval_minutes}m"
        CANARY_ENGINE            = local.settings.engine
        CANARY_NODE_SELECTORS    = local.settings.node_selectors
        CANARY_LOCATION          = var.region
        GOOGLE_CLOUD_PROJECT     = var.project_id
        BACALHAU_API_HOST        = local.settings.bacalhau_api_host
        BACALHAU_API_PORT        = tostring(local.settings.bacalhau_api_port)
        BACALHAU_API_TLS         = tostring(local.settings.bacalhau_api_tls)
        BACALHAU_API_KEY_SECRET  = local.bacalhau_api_key_version
        BACALHAU_API_TLS_CAFILE  = local.api_ca_secret == "" ? "" : "${local.api_ca_dir}/ca.pem"
        # Which canary ran, in the result line (canary_image).
        CANARY_IMAGE = var.image
      } : name => value if value != ""
    }
  }
}

resource "google_cloud_run_v2_job" "scenario" {
  for_each = local.scenarios

  project             = var.project_id
  location            = var.region
  name                = each.value.job_name
  deletion_protection = false
  labels              = merge(local.labels, { scenario = each.value.slug })

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = local.runtime_email
      # A failed run is a data point, not something to retry: the next
      # scheduled run is the retry.
      max_retries = 0
      timeout     = local.task_timeout

      # The API's private CA, a file from Secret Manager (BACALHAU_API_TLS_CAFILE).
      dynamic "volumes" {
        for_each = local.api_ca_secret == "" ? [] : [local.api_ca_secret]
        content {
          name = "api-ca"
          secret {
            secret = volumes.value
            items {
              version = "latest"
              path    = "ca.pem"
            }
          }
        }
      }

      containers {
        image = var.image

        dynamic "volume_mounts" {
          for_each = local.api_ca_secret == "" ? [] : ["api-ca"]
          content {
            name       = volume_mounts.value
            mount_path = local.api_ca_dir
          }
        }

        dynamic "env" {
          for_each = local.job_env[each.key]
          content {
            name  = env.key
            value = env.value
          }
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }
      }
    }
  }

  lifecycle {
    # The job's own rule (pkg/config Validate): credentials never go
    # in clear text to a host that is not loopback. Without it the job
    # would refuse every run (exit 2) and the env would only ever page
    # "canary broken".
    precondition {
      condition = (
        !contains(keys(local.job_env[each.key]), "BACALHAU_API_KEY_SECRET") ||
        lookup(local.job_env[each.key], "BACALHAU_API_TLS", "false") == "true" ||
        lookup(local.job_env[each.key], "CANARY_ALLOW_PLAINTEXT_CREDENTIALS", "false") == "true" ||
        local.api_host_loopback
      )
      error_message = "BACALHAU_API_KEY_SECRET: would go in clear text to \"${local.settings.bacalhau_api_host}\"; set BACALHAU_API_TLS=true (or CANARY_ALLOW_PLAINTEXT_CREDENTIALS=true to accept that)"
    }
    # A run that outlasts its slot is overtaken by the next one, whose
    # point Monitoring takes first: the late run drops out of the window.
    precondition {
      condition     = local.canary_timeout_seconds < each.value.interval_seconds
      error_message = "The canary timeout (${local.settings.canary_timeout}) must be shorter than the time between two runs of ${each.key} (${each.value.interval_seconds}s)."
    }
    precondition {
      condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", each.value.job_name))
      error_message = "Cloud Run job names must be lowercase letters, digits and hyphens, at most 63 characters."
    }
  }

  # The descriptors first: a job writing a metric whose descriptor does not
  # exist yet would have Monitoring create one from its point, and the
  # descriptor's creation here would then fail.
  depends_on = [google_monitoring_metric_descriptor.catalogue]
}

locals {
  # pkg/config isLoopbackHost: bare localhost or a loopback IP literal (a
  # name under .localhost, or one ending in a dot, goes to DNS: not known
  # to be loopback).
  api_host_norm = trim(lower(local.settings.bacalhau_api_host), "[]")
  api_host_loopback = (
    local.api_host_norm == "localhost" ||
    can(regex("^127\\.[0-9]+\\.[0-9]+\\.[0-9]+$", local.api_host_norm)) ||
    contains(["::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"], local.api_host_norm)
  )

  # The deploy pipeline's gate (cloudbuild.yaml) runs every enabled
  # scenario twice, the deployed image and the new one back to back, with
  # each deployed job's environment: recording nothing (CANARY_METRICS=none)
  # and CANARY_IMAGE left out (the image is the run's, and a digest
  # reference holds the delimiter "@").
  gate_env = {
    for key, env in local.job_env : key => merge(
      { for k, v in env : k => v if k != "CANARY_IMAGE" },
      { CANARY_METRICS = "none" },
    )
  }

  # In gcloud's --set-env-vars form with @ as the delimiter, by job slug.
  gate_env_vars = { for k, env in local.gate_env : local.scenarios[k].slug => "^@^${join("@", [for name, v in env : "${name}=${v}"])}" }
}
