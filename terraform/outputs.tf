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
  value       = local.runtime_email
}

output "scheduler_service_account" {
  description = "Email of the service account Cloud Scheduler uses to run the jobs."
  value       = local.scheduler_email
}

output "image_repository" {
  description = "Docker repository of the canary images (REGION-docker.pkg.dev/PROJECT/REPOSITORY), made by the bootstrap."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository_id}"
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

output "deployed_image" {
  description = "Image of the deployed jobs (the image input of the last apply): the deploy gate's baseline."
  value       = var.image
}

output "gate_env_vars" {
  description = "The deploy gate's environment of each enabled scenario (cloudbuild.yaml): the deployed job's, with CANARY_METRICS=none and without CANARY_IMAGE, in gcloud's --set-env-vars form with @ as the delimiter, keyed by the job's slug."
  value       = local.gate_env_vars

  precondition {
    condition     = alltrue(flatten([for k, env in local.gate_env : [for name, v in env : !strcontains(v, "@")]]))
    error_message = "A value of a gate run's environment holds \"@\", the delimiter of gate_env_vars."
  }
}

output "gate_runs" {
  description = "gate_env_vars as lines for the pipeline's shell (scripts/deploy-gate.sh): \"<slug> <environment>\", one per enabled scenario, sorted."
  value       = join("\n", [for slug in sort(keys(local.gate_env_vars)) : "${slug} ${local.gate_env_vars[slug]}"])
}
