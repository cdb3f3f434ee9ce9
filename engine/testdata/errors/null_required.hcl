runbook "t" {}
check "c" {
  shell {
    command = null # ERROR: Required argument is null
  }
}
