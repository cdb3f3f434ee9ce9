runbook "t" {}
check "db" {
  shell {
    command = "true"
  }
}
step "s" {
  check = check.dbb # ERROR: Reference to undeclared check
}
