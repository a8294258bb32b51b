terraform {
  # The same releases as the canary's module (../versions.tf).
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.45"
    }
  }

  # No backend block: the first apply creates the state bucket, so it runs
  # with local state; terraform/README.md ("Bootstrap") then moves the state
  # into the bucket (backend.tf, `init -migrate-state`).
}

provider "google" {
  project = var.project_id
  region  = var.region
}
