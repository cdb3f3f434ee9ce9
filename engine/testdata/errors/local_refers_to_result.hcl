runbook "t" {}
locals {
  out = check.c.stdout # ERROR: Invalid reference in local value
}
check "c" {
  shell {
    command = "true"
  }
}
