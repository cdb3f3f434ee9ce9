runbook "t" {}
check "x" {
  sqlserver { # ERROR: Provider not available yet
    query = "select 1"
  }
}
