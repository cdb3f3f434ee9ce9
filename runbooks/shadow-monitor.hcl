# Shadow-run monitor: the team's 4-hour sanity check, cron check and
# monitor daemon (PIN-016 §2, §4, §6) as one runbook.
#
#   runbook check runbooks/shadow-monitor.hcl                       # by hand
#   */15 * * * * runbook check /opt/runbooks/shadow-monitor.hcl --quiet   # cron: silent when all is well
#   runbook watch runbooks/shadow-monitor.hcl --every 5m --listen 127.0.0.1:9108 \
#     --var alert_webhook_url=https://hooks.example.com/ops
#
# One `runbook watch` replaces both the 5-minute monitor daemon and the
# 4-hourly sanity cron: the checks without a schedule run every cycle, the
# Prometheus checks of the sanity script only at 00:00, 04:00, … UTC
# (cron below); between those runs their last result stands, and its age
# is on /healthz and /metrics. `runbook check` runs every check each time.
#
# Health, as the old daemon had it: CRITICAL when the shadow run is dead,
# mismatches are logged or a disk is full; WARNING when the log is stale
# (no write for 10 minutes) or a disk is above 90%.

runbook "shadow-monitor" {
  title       = "Shadow run sanity check"
  description = "Is the 24-hour shadow run alive, comparing without mismatches, writing its log, and not filling a disk?"
  document    = "PIN-016"
  owner       = "sre"
  tags        = ["m4", "shadow", "monitor"]
  concurrency = 4
}

# --- Where the shadow run lives -------------------------------------------

variable "pid_file" {
  type        = string
  default     = "/var/lib/aos/shadow_24h.pid"
  description = "Pid file the shadow run writes; used unless process_name is set"
}

variable "process_name" {
  type        = string
  default     = ""
  description = "Find the shadow run by command name instead of pid_file (e.g. \"run_shadow_simulation.sh\")"
}

variable "min_uptime_s" {
  type        = number
  default     = 0
  description = "Warn when the shadow run has been up for less than this many seconds: a restart resets the 24 hours"
}

variable "log_file" {
  type        = string
  default     = "/var/lib/aos/shadow_24h.log"
  description = "The shadow run's log"
}

variable "log_stale_after_s" {
  type        = number
  default     = 600
  description = "Warn when the log was not written for this many seconds"
}

variable "golden_dir" {
  type        = string
  default     = "/var/lib/aos/golden"
  description = "Where the shadow run writes its golden files"
}

variable "tmp_dir" {
  type    = string
  default = "/tmp"
}

variable "root_dir" {
  type    = string
  default = "/"
}

variable "disk_warning_percent" {
  type        = number
  default     = 90
  description = "A disk fuller than this is WARNING"
}

variable "disk_critical_percent" {
  type        = number
  default     = 98
  description = "A disk fuller than this is CRITICAL"
  validation {
    condition     = var.disk_critical_percent > 0 && var.disk_critical_percent <= 100
    error_message = "disk_critical_percent is a percentage between 1 and 100."
  }
}

# --- Prometheus (optional) ----------------------------------------------------

variable "prometheus_enabled" {
  type        = bool
  default     = false
  description = "Also ask Prometheus for the workflow metrics and firing alerts"
}

variable "prometheus_url" {
  type    = string
  default = "http://localhost:9090"
}

variable "prometheus_mismatch_query" {
  type        = string
  default     = "sum(workflow_mismatch_total) or vector(0)"
  description = "PromQL that counts replay mismatches; 0 is healthy"
}

# --- Alerts and the playbook --------------------------------------------------

variable "alert_webhook_url" {
  type        = string
  default     = ""
  description = "Receiver of watch's alerts (JSON); empty disables the alert"
}

variable "alert_hmac_secret" {
  type        = string
  default     = ""
  sensitive   = true
  description = "Signs the alerts' bodies (X-Runbook-Signature); empty sends them unsigned"
}

variable "evidence_dir" {
  type        = string
  default     = "/var/lib/aos/incidents"
  description = "Where the mismatch playbook writes what it captured"
}

variable "auto_playbook" {
  type        = bool
  default     = false
  description = "Let watch run the mismatch playbook by itself when mismatches appear"
}

locals {
  # BUG-002: "0 mismatches" success lines must not count.
  mismatch_pattern = "[1-9][0-9]* mismatches|mismatches detected"
  mismatch_exclude = ", 0 mismatches"
}

# [1/5] Process status

check "shadow_process" {
  title       = "Shadow run is running"
  description = "The 24-hour shadow run's process is alive."
  process {
    pid_file = var.process_name == "" ? var.pid_file : null
    name     = var.process_name == "" ? null : var.process_name
  }
  assert {
    condition     = self.running
    error_message = var.process_name == "" ? "the shadow run is not running (pid file ${var.pid_file})" : "no process named ${var.process_name} is running"
  }
  assert {
    condition     = self.elapsed_s >= var.min_uptime_s
    error_message = "the shadow run has been up for only ${format("%.0f", self.elapsed_s / 60)} minutes: it restarted"
    severity      = "warning"
  }
}

# [2/5] Mismatch check

check "shadow_mismatches" {
  title       = "No mismatches in the shadow log"
  description = "Lines reporting replay mismatches, without the \"0 mismatches\" success lines (BUG-002)."
  log {
    path    = var.log_file
    pattern = local.mismatch_pattern
    exclude = local.mismatch_exclude
    tail    = 5
  }
  assert {
    condition     = self.matches == 0
    error_message = "${self.matches} mismatch lines in ${var.log_file}; the last: ${join(" | ", self.lines)}"
  }
}

# [3/5] Disk usage

check "disk_golden" {
  title = "Golden directory's disk has room"
  disk {
    path = var.golden_dir
  }
  assert {
    condition     = self.used_percent <= var.disk_critical_percent
    error_message = "${var.golden_dir} is ${format("%.1f", self.used_percent)}% full"
  }
  assert {
    condition     = self.used_percent <= var.disk_warning_percent
    error_message = "${var.golden_dir} is ${format("%.1f", self.used_percent)}% full"
    severity      = "warning"
  }
}

check "disk_tmp" {
  title = "/tmp has room"
  disk {
    path = var.tmp_dir
  }
  assert {
    condition     = self.used_percent <= var.disk_critical_percent
    error_message = "${var.tmp_dir} is ${format("%.1f", self.used_percent)}% full"
  }
  assert {
    condition     = self.used_percent <= var.disk_warning_percent
    error_message = "${var.tmp_dir} is ${format("%.1f", self.used_percent)}% full"
    severity      = "warning"
  }
}

check "disk_root" {
  title = "Root file system has room"
  disk {
    path = var.root_dir
  }
  assert {
    condition     = self.used_percent <= var.disk_critical_percent
    error_message = "${var.root_dir} is ${format("%.1f", self.used_percent)}% full"
  }
  assert {
    condition     = self.used_percent <= var.disk_warning_percent
    error_message = "${var.root_dir} is ${format("%.1f", self.used_percent)}% full"
    severity      = "warning"
  }
}

# [4/5] Recent activity

check "log_activity" {
  title       = "Shadow log is being written"
  description = "A shadow run that stops logging is stuck, even when its process lives."
  file {
    path = var.log_file
  }
  assert {
    condition     = self.exists
    error_message = "${var.log_file} does not exist"
  }
  assert {
    condition     = self.age_s <= var.log_stale_after_s
    error_message = "${var.log_file} was last written ${format("%.0f", self.age_s / 60)} minutes ago"
    severity      = "warning"
  }
}

# [5/5] Prometheus metrics (when prometheus_enabled), 4-hourly as the
# sanity script ran them

check "prometheus_mismatches" {
  title = "Prometheus counts no workflow mismatch"
  when  = var.prometheus_enabled
  cron  = "0 */4 * * *"
  prometheus {
    url   = var.prometheus_url
    query = var.prometheus_mismatch_query
  }
  assert {
    condition     = self.value == 0
    error_message = "the mismatch query answers ${self.value_text == "" ? "nothing" : self.value_text}"
  }
}

check "prometheus_alerts" {
  title = "No workflow alert is firing"
  when  = var.prometheus_enabled
  cron  = "0 */4 * * *"
  prometheus {
    url    = var.prometheus_url
    alerts = true
  }
  assert {
    condition     = length(self.firing) == 0
    error_message = "firing: ${join(", ", self.firing)}"
    severity      = "warning"
  }
}

# Alerts for `runbook watch`. An empty alert_webhook_url disables this one;
# `--webhook URL` adds a receiver without editing the file.

alert "webhook" {
  webhook {
    url         = var.alert_webhook_url
    hmac_secret = var.alert_hmac_secret
  }
  on = ["CRITICAL", "WARNING", "RECOVERED"]
}

# When mismatches appear, watch names this playbook in its alert (and runs
# it when auto_playbook is true and the emergency stop is off).

playbook "mismatch" {
  title   = "Shadow mismatches detected"
  trigger = check.shadow_mismatches
  auto    = var.auto_playbook

  step "capture" {
    title    = "Capture the mismatch lines"
    expected = "the matching lines saved under the evidence directory"
    shell {
      command = <<-EOT
        set -e
        mkdir -p "$EVIDENCE"
        out="$EVIDENCE/shadow-mismatches-$(date -u +%Y%m%dT%H%M%SZ).log"
        grep -E "$PATTERN" "$LOG" | grep -v -- "$EXCLUDE" | tail -n 500 > "$out" || true
        echo "$out"
      EOT
      env = {
        EVIDENCE = var.evidence_dir
        LOG      = var.log_file
        PATTERN  = local.mismatch_pattern
        EXCLUDE  = local.mismatch_exclude
      }
    }
    assert {
      condition     = self.exit_code == 0
      error_message = "could not write the evidence: ${self.stderr}"
    }
  }

  step "review" {
    title = "Decide whether to stop workflows"
    manual {
      instructions = <<-EOT
        Read the captured lines (the path is in step "capture"'s output) and
        classify the mismatches with runbooks/playbooks/golden-mismatch.hcl.
        If they are determinism violations, stop workflows:
        runbook stop enable --reason "shadow mismatches".
      EOT
    }
  }
}
