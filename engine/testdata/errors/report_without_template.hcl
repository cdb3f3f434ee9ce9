runbook "t" {}
report "r" { # ERROR: Missing required argument
  output = "out.md"
}
