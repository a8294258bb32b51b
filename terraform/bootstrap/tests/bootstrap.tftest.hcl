# Plan-mode checks of the bootstrap, with the google provider mocked as in
# ../../tests: no API, no credentials.

mock_provider "google" {}

variables {
  env                        = "prod"
  project_id                 = "canary-test-project"
  project_number             = "123456789012"
  region                     = "us-central1"
  state_bucket               = "canary-test-project-tfstate"
  github_app_installation_id = 4242
}

run "prod_trigger_on_a_2nd_gen_repository" {
  command = plan

  assert {
    condition     = length(google_cloudbuild_trigger.deploy) == 1 && length(google_cloudbuild_trigger.deploy[0].github) == 0 && google_cloudbuild_trigger.deploy[0].repository_event_config[0].push[0].branch == "^main$" && google_cloudbuild_trigger.deploy[0].location == "us-central1"
    error_message = "prod's trigger fires on push to main of a 2nd-gen repository, in the connection's region, not through the 1st-gen github block."
  }

  assert {
    condition     = google_cloudbuildv2_repository.canary[0].remote_uri == "https://github.com/bacalhau-project/bacalhau-canary.git" && google_cloudbuildv2_connection.github[0].github_config[0].app_installation_id == 4242
    error_message = "The connection uses the GitHub App's installation and the repository is the canary's."
  }
}

run "deployer_holds_no_escalating_role" {
  command = plan

  assert {
    condition = length(setintersection(
      toset([for k, m in google_project_iam_member.grant : m.role if startswith(k, "deployer ")]),
      toset([
        "roles/owner", "roles/editor", "roles/iam.securityAdmin", "roles/iam.serviceAccountAdmin",
        "roles/resourcemanager.projectIamAdmin", "roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator",
        "roles/serviceusage.serviceUsageAdmin", "roles/cloudbuild.builds.editor", "roles/secretmanager.admin",
        "roles/secretmanager.secretAccessor", "roles/storage.admin", "roles/artifactregistry.admin",
      ])
    )) == 0
    error_message = "The deployer must hold no project role that grants roles, acts as any account, reads any secret or changes its trigger."
  }

  assert {
    condition     = toset([for k, m in google_secret_manager_secret_iam_member.grant : "${m.secret_id} ${m.role}" if startswith(k, "deployer ")]) == toset(["slack-token roles/secretmanager.secretAccessor"])
    error_message = "The deployer reads the Slack token only; never the Bacalhau API key."
  }

  assert {
    condition     = toset([for k, m in google_service_account_iam_member.grant : k]) == toset(["deployer roles/iam.serviceAccountUser account:runtime", "deployer roles/iam.serviceAccountUser account:scheduler"])
    error_message = "The deployer acts as the runtime and scheduler accounts only (not as itself or any other)."
  }
}

run "runtime_holds_what_the_job_uses" {
  command = plan

  assert {
    condition     = toset([for k, m in google_project_iam_member.grant : m.role if startswith(k, "runtime ")]) == toset(["roles/monitoring.metricWriter"])
    error_message = "The runtime account writes metric points; its stdout reaches Cloud Logging without a role."
  }

  assert {
    condition     = toset([for k, m in google_secret_manager_secret_iam_member.grant : "${m.secret_id} ${m.role}" if startswith(k, "runtime ")]) == toset(["bacalhau-api-key roles/secretmanager.secretAccessor"])
    error_message = "The runtime account reads the Bacalhau API key and no other secret."
  }
}

run "staging_has_no_deployer" {
  command = plan

  variables {
    env                        = "staging"
    project_number             = null
    github_app_installation_id = null
  }

  assert {
    condition     = length(google_cloudbuild_trigger.deploy) == 0 && !contains(keys(google_service_account.account), "deployer") && length([for k, _ in google_project_iam_member.grant : k if startswith(k, "deployer ")]) == 0
    error_message = "Only prod is deployed by Cloud Build: staging has no deployer, no grant of it, no trigger."
  }
}

run "trigger_needs_the_github_installation" {
  command = plan

  variables {
    github_app_installation_id = null
  }

  expect_failures = [google_cloudbuildv2_connection.github]
}

run "state_bucket_versioned_and_private" {
  command = plan

  assert {
    condition     = google_storage_bucket.state.versioning[0].enabled && google_storage_bucket.state.public_access_prevention == "enforced" && google_storage_bucket.state.uniform_bucket_level_access
    error_message = "The state bucket is versioned, private and uniformly controlled."
  }
}
