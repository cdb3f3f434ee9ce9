runbook "t" {}
step "s" {
  on_failure = "halt" # ERROR: Invalid on_failure
  shell {
    command = "true"
  }
}
