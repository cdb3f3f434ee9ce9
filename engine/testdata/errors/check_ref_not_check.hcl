runbook "t" {}
step "a" {
  shell {
    command = "true"
  }
}
step "s" {
  check = step.a # ERROR: Invalid check reference
}
