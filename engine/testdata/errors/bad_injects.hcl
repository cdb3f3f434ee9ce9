runbook "drill" {
  exercise = "sometimes" # ERROR: Incorrect value type
}

alert "oncall" {
  webhook { url = "http://127.0.0.1:9/hook" }
}

inject "early" {
  at      = "10m" # ERROR: Invalid inject time
  message = "the pager goes off"
  to      = [alert.oncall]
}

inject "nowhere" {
  at      = "+1m"
  message = "the database is slow"
  to      = [alert.on_call] # ERROR: Unknown alert
}

step "look" {
  manual { instructions = "Look." }
}
