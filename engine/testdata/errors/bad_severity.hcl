runbook "t" {}
check "c" {
  shell {
    command = "true"
  }
  assert {
    condition = self.exit_code == 0
    severity  = "critcal" # ERROR: Invalid severity
  }
}
