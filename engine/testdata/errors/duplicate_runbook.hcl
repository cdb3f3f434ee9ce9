runbook "t" {}
runbook "u" {} # ERROR: Duplicate runbook block
