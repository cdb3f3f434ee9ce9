runbook "t" {}
check "x" { # ERROR: Missing provider block
  title = "nothing to run"
}
