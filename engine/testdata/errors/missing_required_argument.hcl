runbook "t" {}
check "x" {
  shell { # ERROR: Missing required argument
  }
}
