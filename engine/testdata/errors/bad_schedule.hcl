runbook "t" {}

variable "often" {
  type    = string
  default = "1h"
}

check "both" {
  every = "1h"
  cron  = "0 * * * *" # ERROR: Conflicting schedules
  shell {
    command = "true"
  }
}

check "bad_every" {
  every = "5" # ERROR: Invalid every
  shell {
    command = "true"
  }
}

check "bad_cron" {
  cron = "0 */4 * *" # ERROR: Invalid cron
  shell {
    command = "true"
  }
}

check "impossible_cron" {
  cron = "0 0 30 2 *" # ERROR: Invalid cron
  shell {
    command = "true"
  }
}

check "interval_as_cron" {
  cron = "@every 1h" # ERROR: Invalid cron
  shell {
    command = "true"
  }
}

check "from_variable" {
  every = var.often # ERROR: Invalid every
  shell {
    command = "true"
  }
}

step "on_a_step" {
  every = "1h" # ERROR: Unsupported argument
  shell {
    command = "true"
  }
}
