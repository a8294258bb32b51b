terraform {
  # Write-only attributes (sensitive_labels.auth_token_wo) and ephemeral
  # resources need Terraform >= 1.11 or OpenTofu >= 1.11.
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.45"
    }
  }

  # Partial configuration: the bucket and a per-env prefix are given at init,
  #   terraform init -backend-config="bucket=<state bucket>" \
  #                  -backend-config="prefix=bacalhau-canary/prod"
  # Offline checks run `init -backend=false` and never touch it.
  backend "gcs" {}
}
