# What this module managed before the bootstrap split (bootstrap/): a state
# from before it still holds these. They are forgotten, not destroyed: the
# accounts, the repository and the APIs live on and are imported into the
# bootstrap, and destroying a grant here would remove the same binding the
# bootstrap makes. The old grants the bootstrap does not make are removed by
# hand (README.md, "Moving a deployment from before the split").
removed {
  from = google_project_service.required
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_artifact_registry_repository.images
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_service_account.runtime
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_service_account.scheduler
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_service_account.deployer
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_project_iam_member.runtime
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_project_iam_member.deployer
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_secret_manager_secret_iam_member.runtime_api_key
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_secret_manager_secret_iam_member.deployer_slack_token
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_secret_manager_secret_iam_member.deployer_api_key
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_artifact_registry_repository_iam_member.deployer
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_service_account_iam_member.deployer_act_as
  lifecycle {
    destroy = false
  }
}

removed {
  from = google_cloudbuild_trigger.deploy
  lifecycle {
    destroy = false
  }
}
