runbook "t" {}
check "golden" {
  shell {
    command = "true"
  }
}
playbook "p" {
  trigger = check.goldn # ERROR: Reference to undeclared check
  step "s" {
    shell {
      command = "true"
    }
  }
}
