runbook "until" {}

check "wait" {
  shell {
    command = "echo 1"
  }
  retry {
    attempts = 3
    until    = self.exit_cod == 0 # ERROR: Unsupported attribute
  }
}

