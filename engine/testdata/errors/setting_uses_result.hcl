runbook "t" {}
step "a" {
  shell {
    command = "true"
  }
}
step "b" {
  title = "after ${step.a.status}" # ERROR: Invalid reference
  shell {
    command = "true"
  }
}
