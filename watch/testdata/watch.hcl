# A runbook whose checks a test turns bad and good by creating and
# removing files in var.dir.
runbook "flags" {
  title = "Flag files"
}

variable "dir" {
  type = string
}

variable "hook_url" {
  type    = string
  default = "http://127.0.0.1:1/unused"
}

variable "token" {
  type      = string
  default   = "tok-3x4mpl3"
  sensitive = true
}

variable "auto" {
  type    = bool
  default = false
}

# CRITICAL while dir/alpha is missing.
check "alpha" {
  file {
    path = "${var.dir}/alpha"
  }
  assert {
    condition     = self.exists
    error_message = "alpha is missing (token ${var.token})"
  }
}

# WARNING while dir/beta-warn exists.
check "beta" {
  file {
    path = "${var.dir}/beta-warn"
  }
  assert {
    condition     = !self.exists
    error_message = "beta-warn is there"
    severity      = "warning"
  }
}

# Skipped ("upstream check.alpha failed") while alpha fails.
check "gamma" {
  depends_on = [check.alpha]
  file {
    path = var.dir
  }
}

variable "flap_threshold" {
  type    = number
  default = 4
}

# A maintenance window that a test may move; by default it never opens in
# the tests: 30 February does not come.
variable "maintenance_cron" {
  default = "0 0 30 2 *"
}

alert "hook" {
  webhook {
    url            = var.hook_url
    flap_threshold = var.flap_threshold
    maintenance {
      cron     = var.maintenance_cron
      duration = "2h"
    }
  }
}

alert "recoveries" {
  webhook {
    url = "${var.hook_url}/recoveries"
  }
  on = ["RECOVERED"]
}

variable "critical_url" {
  default = "" # an empty url disables the alert
}

# Pages only on CRITICAL: it must not hear the recovery of a warning.
alert "critical" {
  webhook {
    url = var.critical_url
  }
  on = ["CRITICAL", "RECOVERED"]
}

playbook "restore_alpha" {
  title   = "Put alpha back"
  trigger = check.alpha
  auto    = var.auto
  step "touch" {
    shell {
      command = "touch '${var.dir}/alpha' '${var.dir}/playbook-ran'"
    }
    confirm = true
  }
}
