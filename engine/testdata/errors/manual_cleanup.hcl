runbook "t" {}
cleanup "c" {
  manual { # ERROR: Manual cleanup
    instructions = "Turn it off."
  }
}
