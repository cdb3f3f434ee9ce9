# M4 Workflow Engine — tabletop exercise (PIN-016, "Tabletop Checklist").
#
# The ten-step checklist that certifies the M4 workflow engine after its
# 24-hour shadow run, as config. Run it after the shadow run completes:
#
#   runbook plan runbooks/m4-tabletop.hcl --var-file prod.vars.hcl
#   runbook exec runbooks/m4-tabletop.hcl --var-file prod.vars.hcl
#
# One step per row of PIN-016's tabletop checklist: ten rows. Step 3, the
# sanity script, is three checks run as one step (checks = [...]).
#
# Steps 4 to 6 drill the emergency stop with runbook's own stop (runbook
# stop enable / check / disable, in the state named by stop_state): steps 4
# and 6 change the system and ask for confirmation; --yes answers for
# unattended drills. If the run ends with the stop still on, cleanup
# "stop_off" turns it off. The run ends with the PIN-015 completion
# document (report "pin_015" below).

runbook "m4-tabletop" {
  title       = "M4 Workflow Engine — tabletop exercise"
  description = "Self-certification of the M4 workflow engine after the 24-hour shadow run"
  document    = "PIN-015"
  owner       = "sre"
  tags        = ["m4", "tabletop", "certification"]
}

# --- Where things are -------------------------------------------------------

variable "api_url" {
  type        = string
  default     = "http://localhost:8000"
  description = "Workflow engine API"
  validation {
    condition     = can(regex("^https?://", var.api_url))
    error_message = "api_url must be an http(s) URL."
  }
}

variable "shadow_quick_command" {
  type        = list(string)
  default     = ["./scripts/stress/run_shadow_simulation.sh", "--quick"]
  description = "Runs a quick shadow simulation; exits 0 when it reports no mismatches"
}

variable "shadow_pid_file" {
  type        = string
  default     = "/var/lib/aos/shadow.pid"
  description = "PID file of the 24-hour shadow run"
}

variable "shadow_log" {
  type        = string
  default     = "/var/lib/aos/shadow_24h.log"
  description = "Log of the shadow run"
}

variable "golden_dir" {
  type        = string
  default     = "/var/lib/aos/golden"
  description = "Shadow-run directory of golden files and their replays"
}

variable "runbook_command" {
  type        = list(string)
  default     = ["runbook"]
  description = "How to call runbook itself, for the emergency-stop drill"
}

variable "stop_state" {
  type        = string
  default     = ""
  description = "The state whose emergency stop the drill flips (a directory or postgres:// URL); empty for runbook's default"
}

variable "min_checkpoints" {
  type        = number
  default     = 1
  description = "Fewest checkpoint rows a shadow run must have written"
}

variable "prometheus_url" {
  type        = string
  default     = "http://localhost:9090"
  description = "Prometheus server"
}

variable "pg_dsn" {
  type        = string
  sensitive   = true
  description = "Checkpoint database (postgres://user:password@host:5432/db)"
}

variable "redis_url" {
  type        = string
  default     = "redis://localhost:6379/0"
  sensitive   = true
  description = "Redis used for checkpoints and locks (may carry a password)"
}

variable "disk_warn_percent" {
  type    = number
  default = 90
}

locals {
  # runbook stop … [--state STATE]
  stop            = concat(var.runbook_command, ["stop"])
  stop_state_args = var.stop_state == "" ? [] : ["--state", var.stop_state]
}

# --- Observations the steps use --------------------------------------------

check "service_health" {
  title = "Service health"
  http {
    url     = "${var.api_url}/health"
    timeout = "5s"
  }
  assert {
    condition     = self.status == 200
    error_message = "health returned HTTP ${self.status}"
  }
  assert {
    condition     = try(self.json.status, "") == "ok"
    error_message = "health body is ${self.body}"
  }
  retry {
    attempts = 3
    interval = "2s"
  }
}

check "shadow_process" {
  title = "Shadow run process is alive"
  process {
    pid_file = var.shadow_pid_file
  }
}

check "shadow_log" {
  title = "No mismatch lines in the shadow log"
  log {
    path    = var.shadow_log
    pattern = "[1-9][0-9]* mismatches|mismatches detected"
    exclude = ", 0 mismatches" # PIN-016 BUG-002: "0 mismatches" is a success line
  }
  assert {
    condition     = self.matches == 0
    error_message = "${self.matches} mismatch lines in the shadow log, last: ${try(self.lines[length(self.lines) - 1], "")}"
  }
  assert {
    condition     = self.age_s < 600
    error_message = "the shadow log has not been written for ${floor(self.age_s / 60)} minutes"
    severity      = "warning"
  }
}

check "golden_disk" {
  title = "Golden directory has room"
  disk {
    path = var.golden_dir
  }
  assert {
    condition     = self.used_percent < var.disk_warn_percent
    error_message = "golden file system is ${floor(self.used_percent)}% full"
    severity      = "warning"
  }
}

# --- The checklist ------------------------------------------------------------

step "health" {
  title    = "Service health"
  check    = check.service_health
  expected = "HTTP 200 with {\"status\":\"ok\"}"
}

step "quick_shadow" {
  title    = "Quick shadow test"
  expected = "simulation completes with 0 mismatches"
  timeout  = "10m"
  shell {
    command = var.shadow_quick_command
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "the quick shadow simulation exited ${self.exit_code}: ${trimspace(self.stderr)}"
  }
  assert {
    condition     = length(regexall("[1-9][0-9]* mismatches|mismatches detected", self.stdout)) == 0
    error_message = "the quick shadow simulation reported mismatches"
  }
}

step "sanity" {
  title    = "Sanity check"
  expected = "process alive, no mismatch lines in the log, disk below the threshold"
  checks   = [check.shadow_process, check.shadow_log, check.golden_disk]
}

step "stop_enable" {
  title    = "Emergency stop"
  expected = "runbook stop enable turns the stop on"
  shell {
    command = concat(local.stop, ["enable", "--reason", "M4 tabletop drill (PIN-016 step 4)"], local.stop_state_args)
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "the emergency stop did not engage (exit ${self.exit_code}): ${trimspace(self.stderr)}"
  }
  confirm    = true
  on_failure = "stop"
}

step "stop_status" {
  title    = "Stop status"
  expected = "runbook stop check exits 4: the stop is on"
  shell {
    command = concat(local.stop, ["check"], local.stop_state_args)
  }
  assert {
    condition     = self.exit_code == 4
    error_message = "runbook stop check exited ${self.exit_code}, not 4: the stop is not on. ${trimspace(self.stderr)}"
  }
}

step "stop_disable" {
  title    = "Re-enable"
  expected = "runbook stop disable turns the stop off; stop check exits 0"
  shell {
    command = concat(local.stop, ["disable", "--reason", "M4 tabletop drill done"], local.stop_state_args)
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "the emergency stop was not turned off (exit ${self.exit_code}): ${trimspace(self.stderr)}"
  }
  confirm = true
}

# However the run ends (a failed step, a declined confirmation, Ctrl-C),
# the emergency stop is not left on: this cleanup runs after the procedure
# and turns it off when the drill tried to turn it on and did not turn it
# off.
cleanup "stop_off" {
  title    = "Emergency stop left off"
  expected = "runbook stop disable turns the stop off"
  when     = contains(["passed", "warning", "failed"], step.stop_enable.status) && step.stop_disable.status != "passed"
  shell {
    command = concat(local.stop, ["disable", "--reason", "M4 tabletop drill cleanup"], local.stop_state_args)
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "the emergency stop may still be on (exit ${self.exit_code}): ${trimspace(self.stderr)}"
  }
  timeout = "2m"
}

step "golden_diff" {
  title    = "Golden diff"
  expected = "no determinism violations, no seed mismatches"
  timeout  = "10m"
  golden {
    left = var.golden_dir
  }
  assert {
    condition     = self.violations == 0 && self.seed_mismatches == 0
    error_message = "${self.violations} determinism violations and ${self.seed_mismatches} seed mismatches in ${self.files} golden pairs"
  }
  assert {
    condition     = self.missing == 0 && self.unreadable == 0
    error_message = "${self.missing} replays missing, ${self.unreadable} unreadable files"
  }
  assert {
    condition     = self.volatile_leaks == 0
    error_message = "${self.volatile_leaks} volatile fields leaked into golden files"
    severity      = "warning"
  }
}

step "prometheus_alerts" {
  title    = "Prometheus alerts"
  expected = "no workflow alert firing"
  prometheus {
    url    = var.prometheus_url
    alerts = true
  }
  assert {
    condition     = length(self.firing) == 0
    error_message = "firing: ${join(", ", self.firing)}"
  }
}

step "checkpoint_db" {
  title    = "Checkpoint DB"
  expected = "checkpoints table holds the shadow run's checkpoints"
  sql {
    dsn   = var.pg_dsn
    query = "SELECT COUNT(*) AS n FROM checkpoints"
  }
  assert {
    condition     = self.row_count == 1 && self.rows[0].n >= var.min_checkpoints
    error_message = "the checkpoints table holds ${try(self.rows[0].n, "no")} rows, fewer than ${var.min_checkpoints}"
  }
}

step "redis" {
  title    = "Redis connectivity"
  expected = "PONG"
  redis {
    url     = var.redis_url
    command = ["PING"]
  }
  assert {
    condition     = self.value == "PONG"
    error_message = "redis answered ${jsonencode(self.value)}"
  }
}

# --- The PIN-015 completion document ----------------------------------------

report "pin_015" {
  template = "pin-completion"
  output   = "PIN-015-completion.md"
  data = {
    milestone = "M4"
    pin       = "PIN-015"
    metrics = {
      golden_files      = try(step.golden_diff.files, null)
      violations        = try(step.golden_diff.violations, null)
      seed_mismatches   = try(step.golden_diff.seed_mismatches, null)
      volatile_leaks    = try(step.golden_diff.volatile_leaks, null)
      checkpoints       = try(step.checkpoint_db.rows[0].n, null)
      shadow_elapsed_h  = try(floor(check.shadow_process.elapsed_s / 3600), null)
      mismatch_log_hits = try(check.shadow_log.matches, null)
    }
  }
  signoff {
    role      = "SRE"
    statement = "I certify the M4 workflow engine meets the maturity gates of PIN-015."
  }
  signoff {
    role      = "Engineering lead"
    statement = "I reviewed the tabletop results and accept the M4 maturity certification."
  }
}
