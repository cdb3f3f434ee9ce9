runbook "t" {}

target "no-ssh" { # ERROR: Missing ssh block
}

check "not_a_target" {
  on = "web-1" # ERROR: Invalid target reference
  shell {
    command = "true"
  }
}
