runbook "t" {}
alert "oncall" { # ERROR: Missing alert channel
  on = ["CRITICAL"]
}
