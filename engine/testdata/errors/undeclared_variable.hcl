runbook "t" {}
variable "api_url" {
  default = "http://localhost"
}
check "x" {
  shell {
    command = "curl ${var.api_ur}" # ERROR: Reference to undeclared input variable
  }
}
