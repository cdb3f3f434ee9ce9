runbook "t" {}
check "1st" { # ERROR: Invalid name
  shell {
    command = "true"
  }
}
