output "env" {
  description = "Environment this configuration was applied for."
  value       = var.env
}

output "scenarios" {
  description = "Enabled scenarios (CANARY_SCENARIO values) mapped to their Cloud Run job names."
  value       = { for key, s in local.scenarios : key => s.job_name }
}

output "job_ids" {
  description = "Cloud Run job IDs, by scenario."
  value       = { for key, job in google_cloud_run_v2_job.scenario : key => job.id }
}

output "scheduler_job_ids" {
  description = "Cloud Scheduler job IDs, by scenario."
  value       = { for key, job in google_cloud_scheduler_job.scenario : key => job.id }
}

output "schedules" {
  description = "Cron schedule of each enabled scenario."
  value       = { for key, s in local.scenarios : key => s.schedule }
}

output "runtime_service_account" {
  description = "Email of the service account the canary jobs run as."
  value       = google_service_account.runtime.email
}

output "scheduler_service_account" {
  description = "Email of the service account Cloud Scheduler uses to run the jobs."
  value       = google_service_account.scheduler.email
}

output "deployer_service_account" {
  description = "Email of the Cloud Build deployer service account, or null where this env has no trigger."
  value       = one(google_service_account.deployer[*].email)
}

output "image_repository" {
  description = "Docker repository to push canary images to (REGION-docker.pkg.dev/PROJECT/REPOSITORY)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "metric_types" {
  description = "Metric types of the canary's metric descriptors."
  value       = sort([for d in google_monitoring_metric_descriptor.catalogue : d.type])
}

output "dashboard_url" {
  description = "Cloud Console link to the canary dashboard."
  value       = local.dashboard_url
}

output "alert_policy_ids" {
  description = "Alert policy IDs: failing, stopped and canary."
  value = {
    failing = google_monitoring_alert_policy.failing.id
    stopped = google_monitoring_alert_policy.stopped.id
    canary  = google_monitoring_alert_policy.canary.id
  }
}

output "notification_channel_id" {
  description = "ID of the Slack notification channel."
  value       = google_monitoring_notification_channel.slack.id
}

output "build_trigger_id" {
  description = "ID of the Cloud Build trigger, or null where this env has no trigger."
  value       = one(google_cloudbuild_trigger.deploy[*].id)
}

output "candidate_env_vars" {
  description = "Environment of the deploy pipeline's candidate run (cloudbuild.yaml): the submit job's, with CANARY_METRICS=none and CANARY_CANDIDATE=true, in gcloud's --set-env-vars form with @ as the delimiter."
  value       = "^@^${join("@", [for k, v in local.candidate_env : "${k}=${v}"])}"

  precondition {
    condition     = alltrue([for k, v in local.candidate_env : !strcontains(v, "@")])
    error_message = "A value of the candidate's environment holds \"@\", the delimiter of candidate_env_vars."
  }
}
