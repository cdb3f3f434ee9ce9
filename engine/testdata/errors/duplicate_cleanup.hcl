runbook "t" {}
playbook "p" {
  step "s" {
    shell { command = "true" }
  }
  cleanup "c" {
    shell { command = "true" }
  }
  cleanup "c" { # ERROR: Duplicate cleanup "c"
    shell { command = "true" }
  }
}
