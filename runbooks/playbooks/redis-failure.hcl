# Incident playbook: Redis (checkpoint cache and locks) is failing.
#
#   runbook exec runbooks/playbooks/redis-failure.hcl --playbook redis_failure

runbook "redis-failure" {
  title = "Redis failure — incident playbook"
  owner = "sre"
  tags  = ["m4", "playbook", "redis"]
}

variable "redis_url" {
  type        = string
  default     = "redis://localhost:6379/0"
  sensitive   = true
  description = "Redis URL (may carry a password)"
}

variable "redis_service" {
  type        = string
  default     = "redis-server"
  description = "systemd unit of the Redis server"
}

variable "memory_warn_percent" {
  type    = number
  default = 90
}

check "redis_ping" {
  title = "Redis answers PING"
  redis {
    url     = var.redis_url
    command = ["PING"]
    timeout = "2s"
  }
  assert {
    condition     = self.value == "PONG"
    error_message = "redis answered ${jsonencode(self.value)}"
  }
}

playbook "redis_failure" {
  title   = "Redis failure"
  trigger = check.redis_ping

  step "ping" {
    title      = "Redis answers PING"
    check      = check.redis_ping
    on_failure = "continue"
  }

  step "memory" {
    title    = "Memory headroom"
    when     = step.ping.status == "passed"
    expected = "used_memory below maxmemory (or no maxmemory)"
    redis {
      url     = var.redis_url
      command = ["INFO", "memory"]
    }
    assert {
      condition     = self.value.memory.maxmemory == 0 || self.value.memory.used_memory * 100 < self.value.memory.maxmemory * var.memory_warn_percent
      error_message = "redis uses ${self.value.memory.used_memory_human} of ${self.value.memory.maxmemory_human}"
      severity      = "warning"
    }
  }

  step "service_status" {
    title    = "Service status"
    when     = step.ping.status != "passed"
    expected = "systemd's view of the unit"
    shell {
      command = ["systemctl", "status", "--no-pager", var.redis_service]
    }
    assert {
      condition     = self.exit_code <= 4
      error_message = "systemctl could not report on ${var.redis_service}"
    }
  }

  step "restart" {
    title    = "Restart Redis"
    when     = step.ping.status != "passed"
    expected = "the unit restarts"
    shell {
      command = ["systemctl", "restart", var.redis_service]
    }
    confirm = true
  }

  step "verify" {
    title = "Redis answers again"
    when  = step.ping.status != "passed"
    check = check.redis_ping
    retry {
      attempts = 5
      interval = "3s"
    }
  }

  step "record" {
    title = "Record the incident"
    manual {
      instructions = <<-EOT
        Note the cause if known (OOM, disk, config), how long Redis was
        unavailable, and whether workflows need replaying.
      EOT
    }
  }
}
