runbook "t" {}
variable "pg_dsn" { # ERROR: No value for required variable
  type      = string
  sensitive = true
}
