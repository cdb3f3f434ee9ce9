runbook "t" {}
check "a" {
  depends_on = [check.b]
  shell {
    command = "true"
  }
}
check "b" {
  shell {
    command = "echo ${check.a.stdout}" # ERROR: Dependency cycle
  }
}
