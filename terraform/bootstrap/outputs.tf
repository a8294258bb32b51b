output "runtime_service_account" {
  description = "Email of the account the canary jobs run as."
  value       = google_service_account.account["runtime"].email
}

output "scheduler_service_account" {
  description = "Email of the account Cloud Scheduler runs the jobs as."
  value       = google_service_account.account["scheduler"].email
}

output "deployer_service_account" {
  description = "Email of the Cloud Build deployer, or null without a trigger."
  value       = try(google_service_account.account["deployer"].email, null)
}

output "state_bucket" {
  description = "The state bucket of both modules."
  value       = google_storage_bucket.state.name
}

output "image_repository" {
  description = "Docker repository to push canary images to (REGION-docker.pkg.dev/PROJECT/REPOSITORY)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "build_trigger_id" {
  description = "ID of the Cloud Build trigger, or null without one."
  value       = one(google_cloudbuild_trigger.deploy[*].id)
}
