runbook "t" {}
check "x" {
  shell {
    command = "true"
    dirr    = "/tmp" # ERROR: Unsupported argument
  }
}
