runbook "t" {}
check "c" {
  shell {
    command = "true"
  }
  retry {
    attempts = 2
  }
  retry { # ERROR: Duplicate retry block
    attempts = 3
  }
}
