runbook "w" {}

check "c" {
  shell {
    command = "true"
  }
  assert {
    condition = "nope" # ERROR: Incorrect value type
  }
  assert {
    condition = [self.exit_code] # ERROR: Incorrect value type
  }
  assert {
    condition = self.exit_code == 0
  }
}

step "s" {
  when = "yes please" # ERROR: Incorrect value type
  shell {
    command = "true"
  }
}

step "t" {
  when = "true"
  shell {
    command = "true"
  }
}
