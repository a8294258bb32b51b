# The deploy trigger on a 2nd-gen repository connection: the Console's
# Cloud Build → Repositories makes these, and the 1st-gen `github {}` block
# of google_cloudbuild_trigger cannot use them ("Repository mapping does not
# exist"). The connection needs the Cloud Build GitHub App installed on the
# repository's owner and a GitHub token in Secret Manager, both made by a
# person (README.md, "Bootstrap").
resource "google_cloudbuildv2_connection" "github" {
  count = local.build_trigger ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = "${local.name}-github"

  github_config {
    app_installation_id = var.github_app_installation_id

    authorizer_credential {
      oauth_token_secret_version = "projects/${var.project_id}/secrets/${var.github_token_secret_id}/versions/latest"
    }
  }

  lifecycle {
    precondition {
      condition     = var.github_app_installation_id != null && var.project_number != null
      error_message = "A trigger needs github_app_installation_id (the Cloud Build GitHub App's installation) and project_number (the Cloud Build service agent reads the GitHub token)."
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.grant]
}

resource "google_cloudbuildv2_repository" "canary" {
  count = local.build_trigger ? 1 : 0

  project           = var.project_id
  location          = var.region
  name              = trimsuffix(basename(var.github_repository_uri), ".git")
  parent_connection = google_cloudbuildv2_connection.github[0].name
  remote_uri        = var.github_repository_uri
}

resource "google_cloudbuild_trigger" "deploy" {
  count = local.build_trigger ? 1 : 0

  project         = var.project_id
  location        = var.region
  name            = "${local.name}-deploy"
  description     = "On push to main: vet and test, build and push the image, gate it against the deployed one, apply env=${var.env}."
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.account["deployer"].id

  repository_event_config {
    repository = google_cloudbuildv2_repository.canary[0].id

    push {
      branch = "^main$"
    }
  }

  # The inputs of the pipeline's applies. The deployer cannot change this
  # trigger (it holds no Cloud Build role): a change here is applied by a
  # person.
  substitutions = {
    _ENV                        = var.env
    _REGION                     = var.region
    _REPOSITORY                 = var.artifact_repository_id
    _TF_STATE_BUCKET            = var.state_bucket
    _SLACK_CHANNEL              = var.slack_channel_name
    _SLACK_TOKEN_SECRET         = var.slack_token_secret_id
    _SLACK_TOKEN_SECRET_VERSION = var.slack_token_secret_version
    _BACALHAU_API_KEY_SECRET    = var.bacalhau_api_key_secret_id
    _BACALHAU_API_TLS_CA_SECRET = var.bacalhau_api_tls_ca_secret_id == null ? "" : var.bacalhau_api_tls_ca_secret_id
  }

  depends_on = [
    google_project_iam_member.grant,
    google_service_account_iam_member.grant,
  ]
}
