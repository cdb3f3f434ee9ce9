// Package engine loads runbooks, resolves their variables, orders their
// checks and steps by reference, runs them through the check providers and
// produces the run record.
//
// Loading happens in two stages, as in Terraform. Load parses the files and
// decodes the runbook's own structure (blocks, shared settings such as
// timeout, retry, when, assert), checks every provider block's body against
// the provider's published schema and resolves the reference graph; every
// problem is an hcl.Diagnostic with a source range. Bind then gives
// variables their values, evaluates locals and settings, and type-checks
// each provider block. Run executes what was bound. No provider knows about
// the engine; the engine knows providers only through checks.Provider and
// the registry it is given.
//
// A run has two phases: the procedure (the top-level steps, a playbook's
// steps, or the checks), then the procedure's cleanup blocks, which run
// however the procedure ended, on a context its interruption does not
// cancel (Options.CleanupCtx). See cleanup.go.
package engine
