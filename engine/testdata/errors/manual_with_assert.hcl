runbook "t" {}
step "page" {
  manual { # ERROR: Unsupported block in manual step
    instructions = "Page the on-call lead."
  }
  assert {
    condition = true
  }
}
