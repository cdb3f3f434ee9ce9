# Incident playbook: workflow checkpoints are failing or not being written.
#
#   runbook exec runbooks/playbooks/checkpoint-failure.hcl --playbook checkpoint_failure --var pg_dsn=…

runbook "checkpoint-failure" {
  title = "Checkpoint failure — incident playbook"
  owner = "sre"
  tags  = ["m4", "playbook", "postgres"]
}

variable "pg_dsn" {
  type        = string
  sensitive   = true
  description = "Checkpoint database (postgres://user:password@host:5432/db)"
}

variable "stale_minutes" {
  type        = number
  default     = 15
  description = "No checkpoint for this long means the writer is stuck"
}

variable "failure_threshold" {
  type        = number
  default     = 10
  description = "Failed checkpoints in the last hour that justify stopping workflows"
}

variable "stop_command" {
  type        = list(string)
  default     = ["./scripts/ops/disable-workflows.sh"]
  description = "The emergency-stop switch; takes enable, status or disable"
}

check "checkpoints_recent" {
  title = "Checkpoints are being written"
  sql {
    dsn   = var.pg_dsn
    query = "SELECT COUNT(*) AS n FROM checkpoints WHERE created_at > now() - make_interval(mins => $1)"
    args  = [var.stale_minutes]
  }
  assert {
    condition     = self.rows[0].n > 0
    error_message = "no checkpoint written in the last ${var.stale_minutes} minutes"
  }
}

playbook "checkpoint_failure" {
  title   = "Checkpoint failure"
  trigger = check.checkpoints_recent

  step "db_reachable" {
    title    = "The checkpoint database answers"
    expected = "SELECT 1 returns one row"
    sql {
      dsn   = var.pg_dsn
      query = "SELECT 1 AS ok"
    }
    on_failure = "stop"
  }

  step "recent" {
    title = "Checkpoints written recently"
    check = check.checkpoints_recent
  }

  step "failures" {
    title    = "Failed checkpoints in the last hour"
    expected = "below the threshold"
    sql {
      dsn   = var.pg_dsn
      query = "SELECT status, COUNT(*) AS n FROM checkpoints WHERE created_at > now() - interval '1 hour' GROUP BY status ORDER BY n DESC"
    }
    assert {
      condition     = sum(concat([0], [for r in self.rows : r.n if r.status == "failed"])) < var.failure_threshold
      error_message = "too many failed checkpoints in the last hour"
    }
    on_failure = "continue"
  }

  step "stuck_writer" {
    title = "Writer stuck: inspect it"
    when  = step.recent.status != "passed"
    manual {
      instructions = <<-EOT
        No checkpoint was written recently. Look at the workflow engine's
        checkpoint writer: its logs, its database connections
        (pg_stat_activity), and lock waits. Note what you found.
      EOT
    }
  }

  step "stop_workflows" {
    title    = "Stop workflow execution"
    when     = step.failures.status == "failed"
    expected = "the emergency stop reports ENABLED"
    shell {
      command = concat(var.stop_command, ["enable"])
    }
    assert {
      condition     = strcontains(upper(self.stdout), "ENABLED")
      error_message = "the emergency stop did not engage"
    }
    confirm = true
  }

  step "verify" {
    title    = "Checkpoints resume"
    check    = check.checkpoints_recent
    expected = "a checkpoint in the last ${var.stale_minutes} minutes"
    retry {
      attempts = 10
      interval = "30s"
    }
    timeout = "6m"
  }
}
