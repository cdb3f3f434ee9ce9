runbook "t" {}
check "db" {
  shell {
    command = "true"
  }
}
step "s" {
  check = check.db
  shell { # ERROR: Conflicting check and provider block
    command = "true"
  }
}
