runbook "t" {}
step "a" {
  shell {
    command = "true"
  }
}
step "b" {
  when = step.aa.status == "failed" # ERROR: Reference to undeclared step
  shell {
    command = "true"
  }
}
