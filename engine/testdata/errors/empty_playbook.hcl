runbook "t" {}
playbook "p" { # ERROR: Empty playbook
  title = "nothing"
}
