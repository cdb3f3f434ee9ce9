runbook "t" {}
variable "api_url" {
  type    = string
  default = "ftp://example"
  validation {
    condition     = startswith(var.api_url, "http") # ERROR: Invalid value for variable
    error_message = "api_url must be an http(s) URL."
  }
}
