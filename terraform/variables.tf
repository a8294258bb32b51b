variable "env" {
  description = "Canary environment: selects one entry of local.envs (endpoint, selectors, schedule, enabled scenarios, alert thresholds) and labels every metric point."
  type        = string

  validation {
    condition     = contains(["prod", "staging", "dev"], var.env)
    error_message = "The env must be one of prod, staging, dev."
  }
}

variable "project_id" {
  description = "Google Cloud project that hosts the canary of this env (one project per env)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "The project_id must be a Google Cloud project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the Cloud Run jobs, Cloud Scheduler jobs and Artifact Registry repository; also the `location` label of the metrics."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "The region must be a Google Cloud region such as us-central1 or europe-west1."
  }
}

variable "image" {
  description = "Canary container image in Artifact Registry, pinned by digest (REGION-docker.pkg.dev/PROJECT/REPO/IMAGE@sha256:...) or by tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+-docker\\.pkg\\.dev/[a-z][a-z0-9-]{4,28}[a-z0-9]/[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)+(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$", var.image))
    error_message = "The image must be an Artifact Registry Docker image path REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE with a :tag or an @sha256:<64 hex> digest."
  }
}

variable "artifact_repository_id" {
  description = "ID of the Artifact Registry Docker repository of the canary image (made by the bootstrap)."
  type        = string
  default     = "bacalhau-canary"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.artifact_repository_id))
    error_message = "The artifact_repository_id must be lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "slack_channel_name" {
  description = "Slack channel that receives the alerts, e.g. #bacalhau-canary."
  type        = string

  validation {
    condition     = can(regex("^#?[a-z0-9][a-z0-9._-]{0,79}$", var.slack_channel_name))
    error_message = "The slack_channel_name must be a Slack channel name (lowercase letters, digits, '.', '_', '-'), optionally starting with '#'."
  }
}

variable "slack_token_secret_id" {
  description = "Secret Manager secret ID (in project_id) holding the Slack app's OAuth token. Read ephemerally at apply time; never stored in state."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.slack_token_secret_id))
    error_message = "The slack_token_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}

variable "slack_token_secret_version" {
  description = "Version of the Slack token secret to send. Bump it after adding a new secret version: it is also the write-only attribute's version, the only way Terraform notices a new token."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.slack_token_secret_version))
    error_message = "The slack_token_secret_version must be a positive secret version number."
  }
}

variable "bacalhau_api_key_secret_id" {
  description = "Secret Manager secret ID (in project_id) holding the Bacalhau API key. The jobs get its version name, not its value, and read it with the Secret Manager client."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.bacalhau_api_key_secret_id))
    error_message = "The bacalhau_api_key_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}

variable "interval_minutes" {
  description = "Per-scenario schedule overrides, in minutes between runs (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60: the slots of a cron `*/N` must be evenly spaced), merged over the env's defaults (prod: list and submit 1, the other three 5; staging 5; dev list and submit 5). Naming a scenario the env does not run enables it. The N-of-M window is window_runs x the scenario's interval."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.interval_minutes : contains([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60], v)])
    error_message = "Each interval_minutes value must be a number of minutes dividing an hour: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60."
  }

  validation {
    condition     = alltrue([for k in keys(var.interval_minutes) : contains([for s in jsondecode(file("${path.module}/scenarios.json")).scenarios : s.name], k)])
    error_message = "Each interval_minutes key must be a scenario of scenarios.json (list, submit, submitAndDescribe, submitAndGet, submitWithConcurrency, nodes)."
  }
}

variable "canary_alert_channel" {
  description = "Optional ID of a notification channel (projects/P/notificationChannels/N) that receives the \"canary broken\" policy instead of the Slack channel, so canary-side problems reach whoever owns the canary rather than the network's on-call."
  type        = string
  default     = null

  validation {
    condition     = var.canary_alert_channel == null || can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", var.canary_alert_channel))
    error_message = "The canary_alert_channel must be a notification channel ID: projects/PROJECT/notificationChannels/NUMBER."
  }
}

variable "canary_timeout" {
  description = "Overrides the env's whole-scenario deadline (CANARY_TIMEOUT), whole seconds with an 's' suffix, e.g. 90s. It must be shorter than the shortest interval between two runs. The Cloud Run task timeout is 60s longer."
  type        = string
  default     = null

  validation {
    condition     = var.canary_timeout == null || (can(regex("^[1-9][0-9]*s$", var.canary_timeout)) && try(tonumber(trimsuffix(var.canary_timeout, "s")) <= 600, false))
    error_message = "The canary_timeout must be a whole number of seconds with an 's' suffix, at most 600s (e.g. 90s)."
  }
}

variable "bacalhau_api_host" {
  description = "Overrides the env's Bacalhau orchestrator API host (BACALHAU_API_HOST)."
  type        = string
  default     = null

  validation {
    condition     = var.bacalhau_api_host == null || can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", var.bacalhau_api_host))
    error_message = "The bacalhau_api_host must be a host name or IP address, without scheme or port."
  }
}

variable "bacalhau_api_port" {
  description = "Overrides the env's Bacalhau orchestrator API port (BACALHAU_API_PORT)."
  type        = number
  default     = null

  validation {
    condition     = var.bacalhau_api_port == null || try(var.bacalhau_api_port >= 1 && var.bacalhau_api_port <= 65535 && floor(var.bacalhau_api_port) == var.bacalhau_api_port, false)
    error_message = "The bacalhau_api_port must be an integer from 1 to 65535."
  }
}

variable "bacalhau_api_tls" {
  description = "Overrides whether the env's Bacalhau API is reached over TLS (BACALHAU_API_TLS)."
  type        = bool
  default     = null
}

variable "slo_goal" {
  description = "Goal of every scenario's windows-based SLO: the fraction of its schedule slots in a 28-day rolling period whose run passed (0.99 allows 1 failed slot in 100: about 403 of prod's 40,320 one-minute slots, 81 of 8,064 five-minute ones). The SLOs page nobody; the dashboard charts their error budgets."
  type        = number
  default     = 0.99

  validation {
    # Monitoring accepts goals up to 0.9999; below 0.5 an SLO says nothing.
    condition     = var.slo_goal >= 0.5 && var.slo_goal <= 0.9999
    error_message = "The slo_goal must be a fraction from 0.5 to 0.9999, e.g. 0.99."
  }
}

variable "bacalhau_api_tls_ca_secret_id" {
  description = "Optional Secret Manager secret (ID in this project) whose latest version is a PEM file of the CA certificates that sign the env's Bacalhau API certificate (a private CA). Mounted into the jobs as a file named by BACALHAU_API_TLS_CAFILE; null or empty: the system's roots only."
  type        = string
  default     = null

  validation {
    condition     = var.bacalhau_api_tls_ca_secret_id == null || can(regex("^[A-Za-z0-9_-]{0,255}$", var.bacalhau_api_tls_ca_secret_id))
    error_message = "The bacalhau_api_tls_ca_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}
