# The accounts and every project-level grant are the bootstrap's
# (bootstrap/, applied once by a person with owner rights). This module
# grants one thing: the scheduler account may run each canary job
# (run.invoker on the job, and nothing else), because the jobs are made here.
resource "google_cloud_run_v2_job_iam_member" "scheduler_invoker" {
  for_each = local.scenarios

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.scenario[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${local.scheduler_email}"
}
