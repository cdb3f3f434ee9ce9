# Checks on schedules: each appends a line to a log in var.dir when it
# runs, and fails while its fail flag exists.
runbook "schedules" {}

variable "dir" {
  type = string
}

check "often" {
  shell {
    command = "echo ran >> '${var.dir}/often.log'"
  }
}

check "hourly" {
  every = "1h"
  shell {
    command = "echo ran >> '${var.dir}/hourly.log'; test ! -e '${var.dir}/hourly-fail'"
  }
}

check "at_four" {
  cron = "CRON_TZ=Europe/Paris 0 6 * * *" # 04:00 UTC in June
  shell {
    command = "echo ran >> '${var.dir}/at_four.log'"
  }
}

# Refers to a scheduled check: sees its standing result.
check "follows_hourly" {
  shell {
    command = "true"
  }
  assert {
    condition     = check.hourly.exit_code == 0
    error_message = "hourly exited ${check.hourly.exit_code}"
  }
}
