runbook "checks" {}

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

step "with_provider" {
  checks = [check.a]
  shell { # ERROR: Conflicting arguments with checks
    command = "true"
  }
}

step "with_confirm" {
  checks  = [check.a]
  confirm = true # ERROR: Conflicting arguments with checks
}

step "not_checks" {
  checks = [step.with_provider] # ERROR: Invalid check reference
}

step "twice" {
  checks = [check.a, check.a] # ERROR: Duplicate check in checks
}


step "with_timeout" {
  checks  = [check.a]
  timeout = "1s" # ERROR: Conflicting arguments with checks
}

step "when_reads_its_checks" {
  checks = [check.a]
  when   = check.a.status == "passed" # ERROR: Step reads its own checks in when
}
