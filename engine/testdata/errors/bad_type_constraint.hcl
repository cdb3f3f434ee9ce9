runbook "t" {}
variable "v" {
  type    = strin # ERROR: Invalid type specification
  default = "x"
}
