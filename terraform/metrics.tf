# One descriptor per metric of the catalogue in metrics.json, the file the Go
# code's catalogue is checked against. Alert policies on custom metrics need
# the descriptors to exist before the first point is written.
resource "google_monitoring_metric_descriptor" "catalogue" {
  for_each = local.metrics

  project      = var.project_id
  type         = "${local.metric_prefix}${each.key}"
  display_name = "Bacalhau canary ${each.key}"
  description  = each.value.description
  metric_kind  = each.value.kind
  value_type   = each.value.value_type
  unit         = each.value.unit

  dynamic "labels" {
    for_each = each.value.labels
    content {
      key         = labels.value.key
      value_type  = "STRING"
      description = labels.value.description
    }
  }

}
