runbook "t" {}
check "x" {
  htp { # ERROR: Unsupported block type
    url = "http://localhost"
  }
}
