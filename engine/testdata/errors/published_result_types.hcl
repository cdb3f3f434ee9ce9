runbook "types" {}

# Results are unknown at validate, but their types are published: what
# can only fail with them fails now.
check "c" {
  shell {
    command = "true"
  }
  assert {
    condition = self.exit_code # ERROR: Incorrect value type
  }
  assert {
    condition     = false
    error_message = self # ERROR: Incorrect value type
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "lines: ${self.stdout_lines}" # ERROR: Invalid template interpolation value
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "exit ${self.exit_code}: ${join(",", self.stdout_lines)}"
  }
}

step "s" {
  shell {
    command = "echo ${check.c.stdout_lines}" # ERROR: Invalid template interpolation value
  }
}

step "t" {
  when = check.c.stdout_lines # ERROR: Incorrect value type
  shell {
    command = "echo ${check.c.stdout} ${step.s.exit_code} ${check.c.status}"
  }
}

check "web" {
  http {
    url = "http://127.0.0.1:9/"
  }
  assert {
    # The body's JSON is dynamic: checked at run time only.
    condition     = self.json.ok
    error_message = "got ${self.json.message}"
  }
}

step "u" {
  # A string may hold "true" or "false": the run decides.
  when = check.c.stdout
  shell {
    command = "true"
  }
}
