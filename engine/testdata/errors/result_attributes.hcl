runbook "r" {}

check "db" {
  sql {
    dsn   = "postgres://localhost/x"
    query = "select 1 as n"
  }
  assert {
    condition = self.rows[0].n == 1 && self.row_count == 1
  }
}

check "api" {
  http {
    url = "http://localhost/"
  }
  assert {
    condition = self.json.anything.goes && self.headers["X-Any"] == "1"
  }
  assert {
    condition = self.exit_cod == 0 # ERROR: Unsupported attribute
  }
}

check "uses" {
  shell {
    command = ["echo", check.db.row] # ERROR: Unsupported attribute
  }
}

step "list" {
  shell {
    command = "ls"
  }
}

step "count" {
  shell {
    command = ["echo", step.list.stdout_line] # ERROR: Unsupported attribute
  }
  assert {
    condition = step.list.status == "passed" && step.list.result.stdout != ""
  }
}

step "ok" {
  when = step.list.stdout_lines[0] != "" && step.list.exit_code == 0
  shell {
    command = ["echo", check.db.rows[0].n, step.list.duration_ms]
  }
}
