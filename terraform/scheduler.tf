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
  schedule    = each.value.schedule
  time_zone   = "Etc/UTC"
  # Starting an execution returns at once; the run itself is not awaited.
  attempt_deadline = "60s"

  # A missed start is a missing point ("stopped reporting" counts those);
  # a retry would start in a later slot and only blur the schedule.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = local.run_uri[each.key]

    oauth_token {
      service_account_email = local.scheduler_email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  lifecycle {
    # The per-env defaults are held to the same rule as interval_minutes:
    # the job derives its slot from the interval, so the cron's slots must
    # be evenly spaced multiples of it.
    precondition {
      condition     = contains([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60], each.value.interval_minutes)
      error_message = "The interval of ${each.key} (${each.value.interval_minutes} min) must divide an hour."
    }
    precondition {
      condition     = endswith(local.run_uri[each.key], "/jobs/${google_cloud_run_v2_job.scenario[each.key].name}:run")
      error_message = "Each scheduler job must target its own Cloud Run job."
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_invoker]
}
