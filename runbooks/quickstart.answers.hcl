# Answers for the manual steps of quickstart.hcl, for non-interactive runs:
#   runbook exec runbooks/quickstart.hcl --answers runbooks/quickstart.answers.hcl --yes
review = {
  status = "passed"
  note   = "Reviewed the quickstart results; all automated steps behaved as expected."
}
