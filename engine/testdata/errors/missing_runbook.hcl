# ERROR: Missing runbook block
check "c" {
  shell {
    command = "true"
  }
}
