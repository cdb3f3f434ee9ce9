runbook "t" {}
check "c" {
  timeout = "soon" # ERROR: Invalid duration
  shell {
    command = "true"
  }
}
