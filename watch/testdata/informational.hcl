# An informational check fails while dir/alpha is missing: the watch
# keeps it out of the health and alerts nobody.
runbook "info" {}

variable "dir" {
  type = string
}

variable "hook_url" {
  type = string
}

check "alpha" {
  file {
    path = "${var.dir}/alpha"
  }
}

check "diagnostic" {
  informational = true
  file {
    path = "${var.dir}/alpha"
  }
  assert {
    condition     = !self.exists
    error_message = "alpha is there"
  }
}

alert "hook" {
  webhook {
    url = var.hook_url
  }
}
