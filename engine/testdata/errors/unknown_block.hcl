runbook "t" {}
chek "x" { # ERROR: Unsupported block type
}
