runbook "checks-refs" {}

check "a" {
  shell {
    command = "true"
  }
}

check "fan" {
  on = [target.one, target.two]
  shell {
    command = "true"
  }
}

target "one" {
  ssh {
    host = "one.internal"
  }
}

target "two" {
  ssh {
    host = "two.internal"
  }
}

step "undeclared" {
  checks = [check.b] # ERROR: Reference to undeclared check
}

step "fanned" {
  checks = [check.fan] # ERROR: Fan-out check in checks
}

step "sees_them" {
  checks = [check.a]
  assert {
    condition = check.a.exit_cod == 0 # ERROR: Unsupported attribute
  }
}
