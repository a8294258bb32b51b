variable "env" {
  description = "Canary environment of this project: prod, staging or dev. Only an env with a deploy trigger (build_trigger) gets the deployer account, its grants and the GitHub connection."
  type        = string

  validation {
    condition     = contains(["prod", "staging", "dev"], var.env)
    error_message = "The env must be one of prod, staging, dev."
  }
}

variable "project_id" {
  description = "Google Cloud project that hosts this env's canary."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "The project_id must be a Google Cloud project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the Artifact Registry repository, the state bucket, the GitHub connection and the trigger (the canary's jobs use the same one)."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "The region must be a Google Cloud region such as us-central1 or europe-west1."
  }
}

variable "build_trigger" {
  description = "Whether this env is deployed by Cloud Build on every push to main (default: prod only). Without it, a person applies ../ and no deployer account exists."
  type        = bool
  default     = null
}

variable "artifact_repository_id" {
  description = "ID of the Artifact Registry Docker repository of the canary image."
  type        = string
  default     = "bacalhau-canary"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.artifact_repository_id))
    error_message = "The artifact_repository_id must be lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "state_bucket" {
  description = "Name of the GCS bucket to create for the Terraform state of both modules (globally unique, e.g. PROJECT-tfstate)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$", var.state_bucket))
    error_message = "The state_bucket must be a GCS bucket name."
  }
}

variable "slack_token_secret_id" {
  description = "Secret Manager secret ID holding the Slack app's OAuth token (created by hand before this apply)."
  type        = string
  default     = "slack-token"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.slack_token_secret_id))
    error_message = "The slack_token_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}

variable "slack_token_secret_version" {
  description = "Version of the Slack token secret, handed to the trigger as _SLACK_TOKEN_SECRET_VERSION."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.slack_token_secret_version))
    error_message = "The slack_token_secret_version must be a positive secret version number."
  }
}

variable "slack_channel_name" {
  description = "Slack channel of the alerts, handed to the trigger as _SLACK_CHANNEL."
  type        = string
  default     = "#bacalhau-canary"

  validation {
    condition     = can(regex("^#?[a-z0-9][a-z0-9._-]{0,79}$", var.slack_channel_name))
    error_message = "The slack_channel_name must be a Slack channel name, optionally starting with '#'."
  }
}

variable "bacalhau_api_key_secret_id" {
  description = "Secret Manager secret ID holding the Bacalhau API key (created by hand before this apply). Only the runtime account may read it."
  type        = string
  default     = "bacalhau-api-key"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.bacalhau_api_key_secret_id))
    error_message = "The bacalhau_api_key_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}

variable "bacalhau_api_tls_ca_secret_id" {
  description = "Optional Secret Manager secret ID holding a PEM file of the private CA that signs the Bacalhau API's certificate (created by hand before this apply): the runtime account may read it, and the pipeline passes it to the canary module. null: the system's roots only."
  type        = string
  default     = null

  validation {
    condition     = var.bacalhau_api_tls_ca_secret_id == null || can(regex("^[A-Za-z0-9_-]{1,255}$", var.bacalhau_api_tls_ca_secret_id))
    error_message = "The bacalhau_api_tls_ca_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}

variable "github_app_installation_id" {
  description = "Installation ID of the Cloud Build GitHub App on the repository's owner (github.com/settings/installations/<ID>). Required with a trigger."
  type        = number
  default     = null
}

variable "github_token_secret_id" {
  description = "Secret Manager secret ID holding a GitHub token of the account that authorised the Cloud Build GitHub App (created by hand). Required with a trigger."
  type        = string
  default     = "github-token"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.github_token_secret_id))
    error_message = "The github_token_secret_id must be a Secret Manager secret ID (letters, digits, '_', '-')."
  }
}

variable "github_repository_uri" {
  description = "HTTPS clone URI of the canary's GitHub repository."
  type        = string
  default     = "https://github.com/bacalhau-project/bacalhau-canary.git"

  validation {
    condition     = can(regex("^https://github\\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\\.git$", var.github_repository_uri))
    error_message = "The github_repository_uri must be https://github.com/OWNER/REPOSITORY.git."
  }
}

variable "project_number" {
  description = "Number of the project (gcloud projects describe PROJECT --format='value(projectNumber)'): names the Cloud Build service agent, which reads the GitHub token. Required with a trigger."
  type        = string
  default     = null

  validation {
    condition     = var.project_number == null || can(regex("^[0-9]{6,20}$", var.project_number))
    error_message = "The project_number must be the project's number (digits)."
  }
}
