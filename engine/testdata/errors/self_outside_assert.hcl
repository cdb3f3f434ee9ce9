runbook "t" {}
check "c" {
  shell {
    command = "echo ${self.stdout}" # ERROR: Invalid self reference
  }
}
