runbook "t" {}

target "web-1" {
  ssh {
    host             = "10.0.0.1"
    private_key_file = "/keys/id"
  }
}

target "web-2" {
  ssh {
    host             = "10.0.0.2"
    private_key_file = "/keys/id"
  }
}

target "no-key" {
  ssh { # ERROR: No way to log in
    host = "10.0.0.3"
  }
}

check "misspelt" {
  on = target.web1 # ERROR: Undeclared target
  shell {
    command = "true"
  }
}

check "http_on_target" {
  on = target.web-1 # ERROR: Provider cannot run on a target
  http {
    url = "http://localhost/"
  }
}

check "everywhere" {
  on = [target.web-1, target.web-2]
  shell {
    command = "uptime"
  }
}

check "uses_everywhere" { # ERROR: Reference to an item on several targets
  shell {
    command = "echo ${check.everywhere.stdout}"
  }
}

step "by_hand" {
  on = target.web-1 # ERROR: Manual step on a target
  manual {
    instructions = "look"
  }
}
