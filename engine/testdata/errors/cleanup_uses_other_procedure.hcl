runbook "t" {}
step "top" {
  shell { command = "true" }
}
playbook "p" {
  step "s" {
    shell { command = "true" }
  }
  cleanup "c" {
    when = step.top.status == "passed" # ERROR: Reference to undeclared step
    shell { command = "true" }
  }
}
