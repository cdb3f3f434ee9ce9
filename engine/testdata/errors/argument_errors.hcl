runbook "a" {}

check "api" {
  http {
    url    = "http://localhost/"
    method = "GTE" # ERROR: Invalid http block
  }
}

check "slow" {
  shell {
    command = "true"
    timeout = "soon" # ERROR: Invalid shell block
  }
}

check "log" {
  log {
    path    = "/var/log/x.log"
    pattern = "([a-z" # ERROR: Invalid log block
  }
}
