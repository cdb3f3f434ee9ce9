runbook "t" {}
step "zero" {
  confirm = { approvals = 0 } # ERROR: Invalid number of approvals
  shell {
    command = "true"
  }
}
step "half" {
  confirm = { approvals = 1.5 } # ERROR: Invalid number of approvals
  shell {
    command = "true"
  }
}
step "word" {
  confirm = { approvals = "two" } # ERROR: Incorrect value type
  shell {
    command = "true"
  }
}
step "other" {
  confirm = { approvers = 2 } # ERROR: Unsupported confirm setting
  shell {
    command = "true"
  }
}
step "late" {
  ack_within = "5m" # ERROR: Deadline on a step no one answers
  shell {
    command = "true"
  }
}
step "never" {
  manual { instructions = "Look." }
  answer_within = "soon" # ERROR: Invalid duration
}
step "empty" {
  confirm = {} # ERROR: Incorrect value type
  shell {
    command = "true"
  }
}
