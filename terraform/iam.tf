locals {
  # Everything the canary job itself may do: write its metric points and its
  # log line. Access to the API key secret is granted on that secret alone.
  runtime_roles = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
  ])
}

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${local.name}-run"
  display_name = "Bacalhau canary jobs (${var.env})"
  description  = "Runs the canary's Cloud Run jobs: writes metrics and logs, reads the Bacalhau API key."

  depends_on = [google_project_service.required]
}

resource "google_project_iam_member" "runtime" {
  for_each = local.runtime_roles

  project = var.project_id
  role    = each.key
  member  = google_service_account.runtime.member
}

resource "google_secret_manager_secret_iam_member" "runtime_api_key" {
  project   = var.project_id
  secret_id = var.bacalhau_api_key_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

resource "google_secret_manager_secret_iam_member" "runtime_api_ca" {
  count = local.api_ca_secret == "" ? 0 : 1

  project   = var.project_id
  secret_id = local.api_ca_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.runtime.member
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${local.name}-sched"
  display_name = "Bacalhau canary scheduler (${var.env})"
  description  = "Identity of the Cloud Scheduler jobs: may only run the canary's Cloud Run jobs."

  depends_on = [google_project_service.required]
}

# run.invoker (run.jobs.run) on each canary job, and nothing else.
resource "google_cloud_run_v2_job_iam_member" "scheduler_invoker" {
  for_each = local.scenarios

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.scenario[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}
