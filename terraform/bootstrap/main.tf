locals {
  name = "bacalhau-canary"

  # prod is deployed by Cloud Build on every push to main; staging and dev
  # are applied by a person.
  build_trigger = var.build_trigger != null ? var.build_trigger : var.env == "prod"

  labels = {
    app = local.name
    env = var.env
  }

  # Everything ../ manages runs on these APIs; the pipeline cannot enable
  # one (it holds no serviceusage role), so they are all enabled here.
  services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  # The canary's accounts. Their IDs are a contract with ../ (main.tf,
  # local.accounts), which names them without reading them.
  accounts = merge(
    {
      runtime = {
        account_id   = "${local.name}-run"
        display_name = "Bacalhau canary jobs (${var.env})"
        description  = "Runs the canary's Cloud Run jobs: writes metric points, reads the Bacalhau API key."
      }
      scheduler = {
        account_id   = "${local.name}-sched"
        display_name = "Bacalhau canary scheduler (${var.env})"
        description  = "Identity of the Cloud Scheduler jobs: may only run the canary's Cloud Run jobs."
      }
    },
    local.build_trigger ? {
      deployer = {
        account_id   = "${local.name}-deploy"
        display_name = "Bacalhau canary deployer (${var.env})"
        description  = "Identity of the Cloud Build trigger: tests, builds and pushes the image, runs the deploy gate, applies the canary's Terraform module."
      }
    } : {},
  )

  # Every grant of grants.json (justified in ../README.md, "Permissions");
  # the deployer's and the Cloud Build agent's only with a trigger, the
  # private CA's only with a CA secret.
  grants = [
    for g in jsondecode(file("${path.module}/grants.json")).grants : g
    if(local.build_trigger || !contains(["deployer", "cloudbuild_agent"], g.account)) &&
    (var.bacalhau_api_tls_ca_secret_id != null || g.on != "secret:bacalhau_api_ca")
  ]
  grant_key = { for g in local.grants : "${g.account} ${g.role} ${g.on}" => g }

  member = merge(
    { for k, a in google_service_account.account : k => a.member },
    local.build_trigger ? { cloudbuild_agent = "serviceAccount:service-${var.project_number}@gcp-sa-cloudbuild.iam.gserviceaccount.com" } : {},
  )
  secret_ids = {
    bacalhau_api_key = var.bacalhau_api_key_secret_id
    slack_token      = var.slack_token_secret_id
    github_token     = var.github_token_secret_id
    bacalhau_api_ca  = var.bacalhau_api_tls_ca_secret_id == null ? "" : var.bacalhau_api_tls_ca_secret_id
  }
}

resource "google_project_service" "required" {
  for_each = local.services

  project = var.project_id
  service = each.key

  # Other workloads of the project may use the same APIs.
  disable_on_destroy = false
}

resource "google_service_account" "account" {
  for_each = local.accounts

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = each.value.display_name
  description  = each.value.description

  depends_on = [google_project_service.required]
}

resource "google_project_iam_member" "grant" {
  for_each = { for k, g in local.grant_key : k => g if g.on == "project" }

  project = var.project_id
  role    = each.value.role
  member  = local.member[each.value.account]
}

resource "google_secret_manager_secret_iam_member" "grant" {
  for_each = { for k, g in local.grant_key : k => g if startswith(g.on, "secret:") }

  project   = var.project_id
  secret_id = local.secret_ids[trimprefix(each.value.on, "secret:")]
  role      = each.value.role
  member    = local.member[each.value.account]

  depends_on = [google_project_service.required]
}

resource "google_service_account_iam_member" "grant" {
  for_each = { for k, g in local.grant_key : k => g if startswith(g.on, "account:") }

  service_account_id = google_service_account.account[trimprefix(each.value.on, "account:")].name
  role               = each.value.role
  member             = local.member[each.value.account]
}

resource "google_artifact_registry_repository_iam_member" "grant" {
  for_each = { for k, g in local.grant_key : k => g if g.on == "repository" }

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.repository_id
  role       = each.value.role
  member     = local.member[each.value.account]
}

resource "google_storage_bucket_iam_member" "grant" {
  for_each = { for k, g in local.grant_key : k => g if g.on == "state_bucket" }

  bucket = google_storage_bucket.state.name
  role   = each.value.role
  member = local.member[each.value.account]
}

# Every grant lands on a scope one of the resources above knows.
check "grants_have_a_scope" {
  assert {
    condition = alltrue([
      for g in local.grants : contains(["project", "repository", "state_bucket"], g.on) ||
      (startswith(g.on, "secret:") && contains(keys(local.secret_ids), trimprefix(g.on, "secret:"))) ||
      (startswith(g.on, "account:") && contains(keys(local.accounts), trimprefix(g.on, "account:")))
    ])
    error_message = "A grant of grants.json names a scope the bootstrap does not know."
  }
}

# The state of both modules (prefixes bacalhau-canary/bootstrap and
# bacalhau-canary/ENV), versioned so a bad apply can be undone.
resource "google_storage_bucket" "state" {
  project                     = var.project_id
  name                        = var.state_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 20
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.required]
}

resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = var.artifact_repository_id
  format        = "DOCKER"
  description   = "Bacalhau canary container images."
  labels        = local.labels

  depends_on = [google_project_service.required]
}
