runbook "t" {}
step "s" {
  shell { command = "true" }
  required = true # ERROR: Required on an automated step
}
