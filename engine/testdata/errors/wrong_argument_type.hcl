runbook "t" {}
check "c" {
  shell {
    command = "true"
    env     = "PATH=/bin" # ERROR: Incorrect attribute value type
  }
}
