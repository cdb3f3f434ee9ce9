runbook "t" {}
check "c" {
  shell {
    command = "true" "false" # ERROR: Missing newline after argument
  }
}
