runbook "t" {}
step "s" {
  shell {
    command = "true"
  }
}
check "c" {
  shell {
    command = "echo ${step.s.stdout}" # ERROR: Invalid reference to a step
  }
}
