locals {
  # The Cloud Run Admin API v2 method that starts one execution of a job.
  run_uri = {
    for key, s in local.scenarios :
    key => "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${s.job_name}:run"
  }
}

resource "google_cloud_scheduler_job" "scenario" {
  for_each = local.scenarios

  project     = var.project_id
  region      = var.region
  name        = each.value.job_name
  description = "Runs the ${each.key} canary scenario (${var.env})."
  schedule    = local.settings.schedule
  time_zone   = "Etc/UTC"
  # Starting an execution returns at once; the run itself is not awaited.
  attempt_deadline = "60s"

  # A missed start is recorded as a missing point, which the alert counts as
  # a failure; retrying would only blur the schedule.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = local.run_uri[each.key]

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  lifecycle {
    # The per-env default schedules are held to the same every-N-minutes
    # form as the schedule variable: the alert window is derived from it.
    precondition {
      condition     = can(regex("^(\\*|\\*/([1-9]|[1-5][0-9])) \\* \\* \\* \\*$", local.settings.schedule))
      error_message = "The schedule must be `* * * * *` or `*/N * * * *` with N from 1 to 59."
    }
    precondition {
      condition     = endswith(local.run_uri[each.key], "/jobs/${google_cloud_run_v2_job.scenario[each.key].name}:run")
      error_message = "Each scheduler job must target its own Cloud Run job."
    }
  }

  depends_on = [
    google_project_service.required,
    google_cloud_run_v2_job_iam_member.scheduler_invoker,
  ]
}
