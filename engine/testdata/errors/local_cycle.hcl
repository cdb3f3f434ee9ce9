runbook "t" {}
locals {
  a = local.b # ERROR: Dependency cycle in local values
  b = local.a
}
