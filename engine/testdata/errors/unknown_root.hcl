runbook "t" {}
check "c" {
  shell {
    command = "echo ${vars.x}" # ERROR: Unknown variable
  }
}
