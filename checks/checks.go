// Package checks is the contract between the engine and the check providers.
//
// A provider is one kind of observation (an HTTP request, a shell command, a
// SQL query …). It publishes the schema of its block as an hcldec.Spec, so the
// engine can decode and type-check the block before anything runs, and it
// turns the decoded configuration into a result object. The engine owns
// everything else: retries, timeouts, assertions, statuses, redaction and the
// run record. Providers never print and never read global state.
//
// Optional abilities are small separate interfaces found by type assertion:
// Documented (reference docs), Describer (a one-line summary for plan and
// reports), Validator (checks beyond types) and io.Closer (release pooled
// connections at the end of a run).
package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Provider runs one kind of check.
//
// The engine makes one Provider per provider type per run (through its
// Factory) and calls Run for every block of that type, possibly from several
// goroutines at once: Run must be safe for concurrent use. A provider may keep
// pools (SQL connections, HTTP clients) for the length of the run and release
// them in Close when it implements io.Closer.
type Provider interface {
	// Schema describes the body of the provider block. The engine decodes
	// the block with it, so unknown arguments and wrong types are
	// configuration errors with source ranges before anything runs.
	Schema() hcldec.Spec

	// Run performs the observation. cfg is the value decoded by Schema,
	// wholly known. The result is an object whose attributes become
	// `self.<name>` in asserts and `step.<name>.<attr>` elsewhere; the engine
	// adds duration_ms and attempts. A non-nil error means the provider
	// could not run (connection refused, timeout); the result may still
	// carry what was observed before the failure, or be cty.NilVal.
	// Run must return promptly when ctx is done.
	Run(ctx context.Context, cfg cty.Value) (cty.Value, error)
}

// Factory makes a fresh Provider for one run.
type Factory func() Provider

// Doc is a provider's reference documentation, shown by `runbook providers`
// and checked against docs/providers by tests.
type Doc struct {
	// Summary is one sentence: what the provider observes.
	Summary string
	// Result names each result attribute with a short description.
	Result map[string]string
}

// Documented is implemented by providers that describe themselves.
type Documented interface {
	Doc() Doc
}

// Describer is implemented by providers that can say in a few words what a
// configured block does ("GET https://api/health", "sh -c 'make test'"), for
// `runbook plan` and reports. cfg may contain unknown values.
type Describer interface {
	Describe(cfg cty.Value) string
}

// Validator is implemented by providers that check a configuration beyond
// what the schema's types express (a method name, a duration string). cfg
// may contain unknown values, which Validate must skip. The engine turns the
// error into a diagnostic on the provider block.
type Validator interface {
	Validate(cfg cty.Value) error
}

// DefaultAsserter is implemented by providers whose result has an obvious
// success condition: a command exits 0, an HTTP status is below 400, a TCP
// port accepts. The engine applies it as a critical assert to blocks that
// declare no assert of their own, so `shell { command = "false" }` fails
// rather than passing silently. Condition is an HCL expression over `self`;
// Message is an HCL template over `self` for the failure.
type DefaultAsserter interface {
	DefaultAssert() (condition, message string)
}

// Environment is implemented by providers that start processes. The
// engine gives them the environment children inherit when it differs from
// the runbook's own (the RUNBOOK_VAR_ values of sensitive variables are
// left out), once, before the first Run.
type Environment interface {
	SetEnviron(env []string)
}

// ArgError is a Validate error about one argument of a provider block.
// The engine points the diagnostic at that argument rather than at the
// block. A Validate error that is not an ArgError but starts with an
// argument's name ("method \"GTE\" is not …", "timeout: …") is pointed at
// that argument too.
type ArgError struct {
	// Arg is the argument's name in the block.
	Arg string
	// Err says what is wrong with it.
	Err error
}

// Error returns the message, which names the argument.
func (e *ArgError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Arg) {
		return msg
	}
	return e.Arg + ": " + msg
}

// Unwrap returns the underlying error.
func (e *ArgError) Unwrap() error { return e.Err }

// ArgErrorf makes an ArgError for argument arg.
func ArgErrorf(arg, format string, a ...any) error {
	return &ArgError{Arg: arg, Err: fmt.Errorf(format, a...)}
}

// Suggest returns " Did you mean "X"?" for the name closest to given
// (case-insensitively, at most two edits away), or "".
func Suggest(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(strings.ToUpper(given), strings.ToUpper(n), nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(". Did you mean %q?", best)
}

// Typed is implemented by providers that publish the type of their result
// object. The engine checks references to it before anything runs:
// `self.exit_cod` or `step.list.stdout_line` is then an error at validate,
// with a suggestion. Attributes whose shape depends on what is observed (a
// decoded JSON body, SQL rows) have type cty.DynamicPseudoType and are
// checked no further.
type Typed interface {
	Result() cty.Type
}

// DynamicResult returns an object type with the given attribute names, each
// of type cty.DynamicPseudoType except those given in known: for providers
// whose result attributes are known by name.
func DynamicResult(names []string, known map[string]cty.Type) cty.Type {
	attrs := make(map[string]cty.Type, len(names))
	for _, n := range names {
		attrs[n] = cty.DynamicPseudoType
		if t, ok := known[n]; ok {
			attrs[n] = t
		}
	}
	return cty.Object(attrs)
}
