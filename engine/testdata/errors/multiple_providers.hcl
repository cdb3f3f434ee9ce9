runbook "t" {}
check "x" {
  shell {
    command = "true"
  }
  shell { # ERROR: Multiple provider blocks
    command = "false"
  }
}
