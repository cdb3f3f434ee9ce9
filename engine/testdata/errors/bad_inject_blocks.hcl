runbook "drill" {
  exercise = true
}

inject "odd" {
  at      = "+2m"
  message = "a customer calls"
  to      = ["oncall"] # ERROR: Invalid inject recipient
}

inject "odd" { # ERROR: Duplicate inject "odd"
  at      = "+3m"
  message = "again"
}

inject "mute" { # ERROR: Missing required argument
  at = "+4m"
}

playbook "p" {
  inject "late" {
    at      = "+1m"
    message = "in a playbook"
    to      = [alert.nope, alert.x.y] # ERROR: Invalid inject recipient
  }
  step "look" {
    manual { instructions = "Look." }
  }
}
