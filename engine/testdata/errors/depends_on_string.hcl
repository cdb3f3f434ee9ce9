runbook "t" {}
check "a" {
  shell {
    command = "true"
  }
}
check "b" {
  depends_on = ["a"] # ERROR: Invalid reference
  shell {
    command = "true"
  }
}
