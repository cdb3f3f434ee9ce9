runbook "until-types" {}

check "not_bool" {
  shell {
    command = "echo 1"
  }
  retry {
    attempts = 3
    until    = self.stdout_lines # ERROR: Incorrect value type
  }
}

check "informational" {
  informational = "maybe" # ERROR: Incorrect value type
  shell {
    command = "true"
  }
}
