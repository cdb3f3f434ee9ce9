runbook "t" {}
step "s" {
  shell { command = "true" }
}
cleanup "c" {
  shell { command = "true" }
  confirm = true # ERROR: Confirm in a cleanup
}
