runbook "t" {}
check "x" {
  shell {
    command = "true"
  }
}
check "x" { # ERROR: Duplicate check "x"
  shell {
    command = "false"
  }
}
