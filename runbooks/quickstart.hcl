# A small tabletop you can run anywhere: no servers, no secrets, no root.
#
#   runbook exec runbooks/quickstart.hcl --answers runbooks/quickstart.answers.hcl --yes
#
# It mixes automated checks, a captured result read by a later step, an
# emergency-stop drill behind `confirm`, and a manual sign-off step, then
# renders its completion report.

runbook "quickstart" {
  title       = "Quickstart tabletop"
  description = "A self-contained tabletop: host sanity, a simulated shadow run, an emergency-stop drill and a human review."
  document    = "QS-001"
  owner       = "sre"
  tags        = ["quickstart", "tabletop"]
}

variable "stop_file" {
  type        = string
  default     = "/tmp/runbook-quickstart.stop"
  description = "Flag file of the simulated emergency stop"
}

variable "disk_warn_percent" {
  type        = number
  default     = 95
  description = "Warn when the runbook's file system is fuller than this"
  validation {
    condition     = var.disk_warn_percent > 0 && var.disk_warn_percent <= 100
    error_message = "disk_warn_percent is a percentage between 1 and 100."
  }
}

locals {
  # A stand-in for a shadow-run summary that a real runbook would read
  # from the workflow engine.
  shadow_summary = jsonencode({ cycles = 12, workflows = 108, replays = 108, mismatches = 0 })
}

check "shell_available" {
  title       = "A POSIX shell runs"
  description = "Every command step below needs /bin/sh."
  shell {
    command = ["sh", "-c", "echo ready"]
  }
  assert {
    condition     = self.stdout == "ready\n"
    error_message = "sh printed ${jsonencode(self.stdout)}"
  }
}

check "disk_space" {
  title = "File system has room for run records"
  disk {
    path = path.module
  }
  assert {
    condition     = self.used_percent < var.disk_warn_percent
    error_message = "the file system is ${floor(self.used_percent)}% full"
    severity      = "warning"
  }
}

step "health" {
  title    = "Host sanity"
  check    = check.shell_available
  expected = "sh prints ready"
}

step "runbook_present" {
  title    = "The runbook itself is readable"
  expected = "file exists and is not empty"
  file {
    path = "${path.module}/quickstart.hcl"
  }
  assert {
    condition     = self.exists && self.size > 0
    error_message = "quickstart.hcl is missing or empty"
  }
}

step "disk" {
  title    = "Disk usage"
  check    = check.disk_space
  expected = "below ${var.disk_warn_percent}% used"
}

step "shadow_run" {
  title    = "Simulated shadow run"
  expected = "JSON summary with 0 mismatches"
  shell {
    command = ["echo", local.shadow_summary]
  }
  assert {
    condition     = jsondecode(self.stdout).mismatches == 0
    error_message = "the shadow run reported ${jsondecode(self.stdout).mismatches} mismatches"
  }
}

step "replays_match" {
  title    = "Every workflow was replayed"
  expected = "replays == workflows"
  shell {
    command = ["echo", "${jsondecode(step.shadow_run.stdout).replays}/${jsondecode(step.shadow_run.stdout).workflows}"]
  }
  assert {
    condition     = jsondecode(step.shadow_run.stdout).replays == jsondecode(step.shadow_run.stdout).workflows
    error_message = "only ${trimspace(self.stdout)} workflows were replayed"
  }
}

step "stop_enable" {
  title    = "Drill: enable the emergency stop"
  expected = "stop flag written"
  shell {
    command = ["sh", "-c", "date -u +%FT%TZ > \"$1\" && echo ENABLED", "sh", var.stop_file]
  }
  assert {
    condition     = strcontains(self.stdout, "ENABLED")
    error_message = "the stop flag was not written"
  }
  confirm    = true
  on_failure = "stop"
}

step "stop_status" {
  title    = "Drill: the stop is visible"
  expected = "flag file exists"
  file {
    path = var.stop_file
  }
}

step "stop_disable" {
  title    = "Drill: re-enable workflows"
  expected = "flag file removed"
  shell {
    command = ["rm", "-f", var.stop_file]
  }
  confirm = true
}

# Runs after the procedure however it ended (failed, declined, Ctrl-C):
# the drill never leaves the stop flag behind.
cleanup "stop_off" {
  title = "Drill: the stop is not left on"
  when  = contains(["passed", "warning", "failed"], step.stop_enable.status) && step.stop_disable.status != "passed"
  shell {
    command = ["rm", "-f", var.stop_file]
  }
}

step "review" {
  title    = "Operator reviews the results"
  expected = "the operator agrees the system is ready"
  assignee = "sre"
  manual {
    instructions = <<-EOT
      Read the results above. Answer "passed" if every automated step
      behaved as expected, and note anything surprising.
    EOT
  }
}

# The completion document: rendered after every exec into the state
# directory (runbooks/.runbook/reports/), since no output path is given.
report "completion" {
  template = "pin-completion"
  data = {
    milestone = "Quickstart"
    pin       = "QS-001"
    metrics   = jsondecode(step.shadow_run.stdout)
  }
  signoff {
    role      = "SRE"
    statement = "I ran the quickstart tabletop and reviewed its results."
  }
}
