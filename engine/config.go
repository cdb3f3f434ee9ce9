package engine

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// Config is a loaded runbook: its files and decoded blocks, not yet bound
// to variable values.
type Config struct {
	// Path is the file or directory the runbook was loaded from.
	Path string
	// Dir is the runbook's directory: relative file() and template paths,
	// and path.module, resolve against it.
	Dir string
	// Files are the parsed files by name, for diagnostic snippets.
	Files map[string]*hcl.File
	// Sources are the file names in load order.
	Sources []string
	// SourceSHA256 is a digest of every source file, names and contents.
	SourceSHA256 string

	Runbook   *RunbookBlock
	Variables map[string]*Variable
	// VariableOrder lists variable names in declaration order.
	VariableOrder []string
	Locals        map[string]*Local
	LocalOrder    []string
	Checks        map[string]*Item
	CheckOrder    []string
	// Steps are the top-level steps in file order.
	Steps         []*Item
	Playbooks     map[string]*Playbook
	PlaybookOrder []string
	// Cleanups are the top-level cleanup blocks in file order: they run
	// after the top-level procedure, however it ended.
	Cleanups []*Item
	// Reports are the top-level report blocks: rendered after the
	// top-level procedure. A playbook carries its own.
	Reports []*Report
	Alerts  []*Alert
	// Injects are the top-level inject blocks: an exercise of the
	// top-level procedure delivers them. A playbook carries its own.
	Injects []*InjectBlock
	// Targets are the hosts items run on with `on`, by name.
	Targets     map[string]*TargetBlock
	TargetOrder []string

	// types caches what the engine learned of each provider type.
	types typeCache
}

// checksAndSteps returns the checks in declaration order, then the
// top-level steps in file order.
func (c *Config) checksAndSteps() []*Item {
	items := make([]*Item, 0, len(c.CheckOrder)+len(c.Steps))
	for _, name := range c.CheckOrder {
		items = append(items, c.Checks[name])
	}
	return append(items, c.Steps...)
}

// RunbookBlock is the `runbook "name" {}` block.
type RunbookBlock struct {
	Name      string
	Attrs     hcl.Attributes
	DeclRange hcl.Range
}

// Variable is a `variable` block, with Terraform's semantics.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type
	// Default is cty.NilVal when the variable has no default.
	Default     cty.Value
	Sensitive   bool
	Nullable    bool
	Validations []*Validation
	DeclRange   hcl.Range
	// Defaults are the defaults of the optional(type, default) attributes
	// in Type; nil when it has none.
	Defaults *typeexpr.Defaults
}

// Validation is a variable's validation block.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one named value of a locals block.
type Local struct {
	Name string
	Expr hcl.Expression
}

// Item is a check, a step or a cleanup: the shared settings decoded in
// stage one and the provider block kept as a body for the provider's own
// schema.
type Item struct {
	// Kind is "check", "step" or "cleanup".
	Kind string
	Name string
	// Playbook names the playbook a step or cleanup belongs to; empty at
	// top level.
	Playbook string

	Title       hcl.Expression
	Description hcl.Expression
	Expected    hcl.Expression

	// ProviderType names the provider block ("http", "shell", …); empty for
	// manual steps and steps that run a declared check.
	ProviderType  string
	ProviderBody  hcl.Body
	ProviderRange hcl.Range

	// CheckRef names the declared check a step runs (check = check.NAME).
	CheckRef string
	// CheckRefRange is set with CheckRef. This and the other ranges
	// most items lack are pointers: an Item is 616 bytes, not 784
	// (docs/performance.md, round 3).
	CheckRefRange *hcl.Range

	// Manual holds a human step's instructions.
	Manual *Manual

	Asserts   []*Assert
	Retry     *Retry
	Timeout   hcl.Expression
	When      hcl.Expression
	Confirm   hcl.Expression
	OnFailure hcl.Expression
	// Required, on a manual step, refuses "skipped" as its answer.
	Required hcl.Expression
	// Assignee names who should carry out a step (a person or a role,
	// "sre"): the console highlights it for them.
	Assignee  hcl.Expression
	DependsOn []Ref
	// AckWithin and AnswerWithin are an owned step's deadlines
	// (ack_within = "5m", answer_within = "30m").
	AckWithin, AnswerWithin hcl.Expression
	// On names the targets the item runs on (`on = target.NAME`); OnList
	// is true when a list was given: the item then runs once per target.
	On      []string
	OnList  bool
	OnRange *hcl.Range // set with On
	// Schedule is a check's every or cron; nil runs it every time.
	Schedule *Schedule

	// refs are the items this item's expressions reference, found by Load.
	refs []Ref
	// uses are the variables and locals the item's expressions name
	// ("var.x", "local.y").
	uses []string

	DeclRange hcl.Range

	// CheckRefs names the checks a step is made of (checks = [check.a,
	// check.b]): they run as part of the step, which is one row.
	CheckRefs      []string
	CheckRefsRange *hcl.Range // set with CheckRefs
	// Informational makes the item's status evidence only: it never
	// changes the run's status or exit code.
	Informational hcl.Expression
}

// Address is "check.NAME", "step.NAME" or "cleanup.NAME".
func (it *Item) Address() string { return it.Kind + "." + it.Name }

// Manual is a human step's `manual {}` block.
type Manual struct {
	Instructions hcl.Expression
	DeclRange    hcl.Range
}

// Assert is an `assert {}` block.
type Assert struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	Severity     hcl.Expression
	DeclRange    hcl.Range
}

// Retry is a `retry {}` block.
type Retry struct {
	Attempts  hcl.Expression
	Interval  hcl.Expression
	DeclRange hcl.Range
	// Until, over self, keeps the item polling while it is false.
	Until hcl.Expression
}

// Ref is a reference from one item to another (check.x or step.y).
type Ref struct {
	Kind  string
	Name  string
	Range hcl.Range
}

// Address is "check.NAME" or "step.NAME".
func (r Ref) Address() string { return r.Kind + "." + r.Name }

// Playbook is a named procedure for one kind of incident.
type Playbook struct {
	Name         string
	Title        hcl.Expression
	Description  hcl.Expression
	Trigger      string
	TriggerRange hcl.Range
	Auto         hcl.Expression
	Steps        []*Item
	// Cleanups run after the playbook's steps, however they ended.
	Cleanups []*Item
	// Reports are rendered after a run of this playbook.
	Reports []*Report
	// Injects are delivered during an exercise of this playbook.
	Injects   []*InjectBlock
	DeclRange hcl.Range
}

// Report is a `report` block: a document rendered from a run.
type Report struct {
	Name      string
	Template  hcl.Expression
	Output    hcl.Expression
	Data      hcl.Expression
	Signoffs  []*Signoff
	DeclRange hcl.Range
}

// Signoff is one signature block of a report.
type Signoff struct {
	Role      hcl.Expression
	Statement hcl.Expression
	Name      hcl.Expression
	DeclRange hcl.Range
}

// Alert is an `alert` block: where `watch` sends health transitions. Its
// channel body is decoded by the watch machinery.
type Alert struct {
	Name        string
	Channel     string
	ChannelBody hcl.Body
	On          hcl.Expression
	DeclRange   hcl.Range
}
