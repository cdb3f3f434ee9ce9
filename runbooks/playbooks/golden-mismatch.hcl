# Incident playbook: a golden mismatch was detected in the shadow run.
#
#   runbook check runbooks/playbooks/golden-mismatch.hcl                 # is there a mismatch?
#   runbook exec  runbooks/playbooks/golden-mismatch.hcl --playbook golden_mismatch
#
# Triage classifies the differences first: volatile leaks (a timestamp in a
# golden file) are a hygiene ticket, a seed mismatch means the pair was not
# comparable, and only determinism violations justify stopping workflows.

runbook "golden-mismatch" {
  title = "Golden mismatch — incident playbook"
  owner = "sre"
  tags  = ["m4", "playbook", "golden"]
}

variable "golden_dir" {
  type        = string
  default     = "/var/lib/aos/golden"
  description = "Shadow-run directory of golden files and their replays"
}

variable "evidence_dir" {
  type        = string
  default     = "/var/lib/aos/incidents"
  description = "Where evidence bundles are written"
}

variable "stop_command" {
  type        = list(string)
  default     = ["./scripts/ops/disable-workflows.sh"]
  description = "The emergency-stop switch; takes enable, status or disable"
}

check "golden" {
  title = "Golden files match their replays"
  golden {
    left = var.golden_dir
  }
}

playbook "golden_mismatch" {
  title   = "Golden mismatch detected"
  trigger = check.golden

  step "classify" {
    title    = "Classify every difference"
    expected = "counts per class; the first findings"
    golden {
      left         = var.golden_dir
      max_findings = 20
    }
    assert {
      condition     = self.files > 0
      error_message = "no golden pairs found under ${var.golden_dir}"
    }
  }

  step "volatile_only" {
    title = "Only volatile fields differ: no stop needed"
    when  = step.classify.violations == 0 && step.classify.seed_mismatches == 0 && step.classify.volatile_leaks > 0
    manual {
      instructions = <<-EOT
        Only volatile fields (timestamps, durations) differ. Open a ticket to
        strip them from the golden output, listing the paths in the findings
        of step "classify". Workflows keep running.
      EOT
    }
  }

  step "seed_mismatch" {
    title = "Seed mismatch: the replay did not use the recorded seed"
    when  = step.classify.seed_mismatches > 0
    manual {
      instructions = <<-EOT
        The replay ran with a different seed, so these pairs were not
        comparable. Check the replay harness passes the recorded seed, then
        re-run the replay for the affected files.
      EOT
    }
  }

  step "evidence" {
    title    = "Bundle the evidence"
    when     = step.classify.violations > 0
    expected = "a tarball of the golden directory in the evidence directory"
    shell {
      command = ["sh", "-c", "mkdir -p \"$1\" && tar czf \"$1/golden-$(date -u +%Y%m%dT%H%M%SZ).tgz\" -C \"$2\" . && ls -1t \"$1\" | head -1", "sh", var.evidence_dir, var.golden_dir]
    }
  }

  step "stop_workflows" {
    title    = "Stop workflow execution"
    when     = step.classify.violations > 0
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

  step "page_owner" {
    title = "Page the workflow-engine owner"
    when  = step.classify.violations > 0
    manual {
      instructions = <<-EOT
        Page the workflow-engine owner with the first findings of step
        "classify" and the evidence bundle. Note who acknowledged.
      EOT
    }
  }
}
