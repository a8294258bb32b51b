locals {
  build_trigger = local.settings.build_trigger

  # What the deployer (Cloud Build) needs at project level to run
  # cloudbuild.yaml: write its build logs and apply this configuration.
  # Narrower grants (one repository, one secret, one account) are below.
  # Object access to the state bucket is granted at bootstrap, outside this
  # configuration: refreshing a bucket binding would need the bucket's IAM
  # policy, i.e. far more than its objects.
  deployer_roles = toset([
    "roles/logging.logWriter",               # build logs (CLOUD_LOGGING_ONLY)
    "roles/run.admin",                       # Cloud Run jobs and their IAM (scheduler invoker)
    "roles/cloudscheduler.admin",            # scheduler jobs
    "roles/monitoring.editor",               # descriptors, policies, channel, dashboard
    "roles/iam.serviceAccountAdmin",         # the canary's service accounts
    "roles/serviceusage.serviceUsageAdmin",  # google_project_service
    "roles/cloudbuild.builds.editor",        # this trigger
    "roles/resourcemanager.projectIamAdmin", # runtime roles only: see the condition below
    "roles/secretmanager.viewer",            # secret metadata and IAM policies (refresh), no payloads
  ])

  # The deployer may grant at project level only the runtime roles.
  deployer_grantable_roles = sort(tolist(local.runtime_roles))
}

resource "google_service_account" "deployer" {
  count = local.build_trigger ? 1 : 0

  project      = var.project_id
  account_id   = "${local.name}-deploy"
  display_name = "Bacalhau canary deployer (${var.env})"
  description  = "Identity of the Cloud Build trigger: tests, builds and pushes the image, applies the Terraform configuration."

  depends_on = [google_project_service.required]
}

resource "google_project_iam_member" "deployer" {
  for_each = local.build_trigger ? local.deployer_roles : toset([])

  project = var.project_id
  role    = each.key
  member  = google_service_account.deployer[0].member

  dynamic "condition" {
    for_each = each.key == "roles/resourcemanager.projectIamAdmin" ? [1] : []
    content {
      title       = "canary-runtime-roles-only"
      description = "Grant or revoke only the canary runtime's roles."
      expression  = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(${jsonencode(local.deployer_grantable_roles)})"
    }
  }
}

# Push images to, and manage, the canary's repository only (admin, not
# repoAdmin: refreshing this binding needs the repository's IAM policy).
resource "google_artifact_registry_repository_iam_member" "deployer" {
  count = local.build_trigger ? 1 : 0

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.repository_id
  role       = "roles/artifactregistry.admin"
  member     = google_service_account.deployer[0].member
}

# Deploy jobs as the runtime account, scheduler jobs as the scheduler account,
# and keep the trigger running as itself.
resource "google_service_account_iam_member" "deployer_act_as" {
  for_each = local.build_trigger ? {
    runtime   = google_service_account.runtime.name
    scheduler = google_service_account.scheduler.name
    deployer  = google_service_account.deployer[0].name
  } : {}

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer[0].member
}

# Read the Slack token (ephemeral, at apply) and manage the runtime's access
# to the API key secret: one secret each.
resource "google_secret_manager_secret_iam_member" "deployer_slack_token" {
  count = local.build_trigger ? 1 : 0

  project   = var.project_id
  secret_id = var.slack_token_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.deployer[0].member
}

resource "google_secret_manager_secret_iam_member" "deployer_api_key" {
  count = local.build_trigger ? 1 : 0

  project   = var.project_id
  secret_id = var.bacalhau_api_key_secret_id
  role      = "roles/secretmanager.admin"
  member    = google_service_account.deployer[0].member
}

resource "google_cloudbuild_trigger" "deploy" {
  count = local.build_trigger ? 1 : 0

  project         = var.project_id
  location        = "global"
  name            = "${local.name}-deploy"
  description     = "On push to main: vet and test, build and push the image, apply env=${var.env}."
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.deployer[0].id

  github {
    owner = var.github_owner
    name  = var.github_repository

    push {
      branch = "^main$"
    }
  }

  # The inputs of this apply, handed back to the next one.
  substitutions = {
    _ENV                        = var.env
    _REGION                     = var.region
    _REPOSITORY                 = var.artifact_repository_id
    _TF_STATE_BUCKET            = coalesce(var.state_bucket, "unset")
    _SLACK_CHANNEL              = var.slack_channel_name
    _SLACK_TOKEN_SECRET         = var.slack_token_secret_id
    _SLACK_TOKEN_SECRET_VERSION = var.slack_token_secret_version
    _BACALHAU_API_KEY_SECRET    = var.bacalhau_api_key_secret_id
    _BACALHAU_API_TLS_CA_SECRET = local.api_ca_secret
  }

  lifecycle {
    precondition {
      condition     = var.state_bucket != null
      error_message = "The Cloud Build trigger applies this configuration, so state_bucket must name the state bucket."
    }
  }

  depends_on = [
    google_project_service.required,
    google_service_account_iam_member.deployer_act_as,
  ]
}
