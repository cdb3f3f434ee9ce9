runbook "t" {}
step "first" {
  when = step.second.status == "passed" # ERROR: Reference to a later step
  shell {
    command = "true"
  }
}
step "second" {
  shell {
    command = "true"
  }
}
