// Package record defines the run record: the JSON document every `exec`,
// `check` and `watch` cycle leaves behind, with stable field names (the
// contract in docs/cli.md). Reports, views and the state store read it;
// only the engine writes it.
package record

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Statuses of an item and of a run.
const (
	Passed     = "passed"
	Failed     = "failed"
	Warning    = "warning"
	Skipped    = "skipped"
	Pending    = "pending"
	Incomplete = "incomplete" // run status only: a manual step is pending or a step was declined
	// Declined is a step whose confirmation the operator refused: the
	// procedure ended there, and the run is incomplete (resumable).
	Declined = "declined"
	// Running is an item (or, in the journal, a run) not finished yet.
	Running = "running"
	// Abandoned is a run status read back from a journal whose process is
	// gone (killed, OOM, power loss): it never finished.
	Abandoned = "abandoned"
)

// Kinds of item.
const (
	KindCheck = "check"
	KindStep  = "step"
	// KindCleanup is a cleanup block: it runs after the procedure ends,
	// however it ended.
	KindCleanup = "cleanup"
)

// Run is one run of a runbook or playbook.
type Run struct {
	ID            string    `json:"id"`
	Runbook       string    `json:"runbook"`
	Title         string    `json:"title"`
	Description   string    `json:"description,omitempty"`
	Document      string    `json:"document"`
	Owner         string    `json:"owner,omitempty"`
	Tags          []string  `json:"tags,omitempty"`
	Source        string    `json:"source"`
	SourceSHA256  string    `json:"source_sha256"`
	Playbook      *string   `json:"playbook"`
	Mode          string    `json:"mode,omitempty"` // exec, check, watch
	Operator      string    `json:"operator"`
	Host          string    `json:"host"`
	EngineVersion string    `json:"engine_version"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	DurationMS    int64     `json:"duration_ms"`
	Status        string    `json:"status"`
	Interrupted   bool      `json:"interrupted,omitempty"`
	// Signal names what interrupted the run ("interrupt", "terminated",
	// "hangup"), when one did.
	Signal string `json:"signal,omitempty"`
	// PID is the runbook process; with Host it tells whether a run whose
	// record still says "running" is alive or abandoned.
	PID int `json:"pid,omitempty"`
	// UpdatedAt is when the journal last wrote this record.
	UpdatedAt   time.Time      `json:"updated_at,omitzero"`
	ResumedFrom string         `json:"resumed_from,omitempty"`
	Variables   map[string]any `json:"variables"`
	Summary     Summary        `json:"summary"`
	Items       []Item         `json:"items"`
	// Reports lists the documents rendered from this run's report blocks.
	Reports []ReportOutput `json:"reports,omitempty"`
	// Signoffs are the signatures given to the run's report, in order.
	Signoffs []Signoff `json:"signoffs,omitempty"`
	// Exercise is set on a run made as an exercise (exercise = true in
	// the runbook block, or exec --exercise): the injects it delivered
	// and the facilitator's pauses. Nil on a real run.
	Exercise *Exercise `json:"exercise,omitempty"`
}

// Exercise is what an exercise run adds to its record.
type Exercise struct {
	// Injects are the scheduled injects, in order, delivered or not.
	Injects []Inject `json:"injects"`
	// Pauses are the facilitator's pauses of the exercise clock.
	Pauses []Pause `json:"pauses,omitempty"`
}

// Inject is a scenario message delivered during an exercise.
type Inject struct {
	Name    string `json:"name"`
	Message string `json:"message"`
	// At is the offset as written ("+10m"); OffsetMS the same in
	// milliseconds of exercise time (the paused time not counted).
	At       string `json:"at"`
	OffsetMS int64  `json:"offset_ms"`
	// To names the alert channels it goes to ("oncall").
	To []string `json:"to,omitempty"`
	// DeliveredAt is when it was delivered; zero when the run ended first.
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	// Errors say which alert channels could not be reached.
	Errors []string `json:"errors,omitempty"`
}

// Pause is a stretch of time during which the facilitator held the
// exercise clock: no inject is delivered while it lasts.
type Pause struct {
	From time.Time `json:"from"`
	// Until is zero while the pause lasts.
	Until   time.Time `json:"until,omitzero"`
	By      string    `json:"by,omitempty"`
	Surface string    `json:"surface,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// Score is a facilitator's score of an answered step in an exercise.
type Score struct {
	// Value is from 1 (poor) to 5 (excellent).
	Value   int       `json:"value"`
	Comment string    `json:"comment,omitempty"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at,omitzero"`
	Surface string    `json:"surface,omitempty"`
}

// Score values.
const (
	MinScore = 1
	MaxScore = 5
)

// Signoff is a person's signature of one role of a run's report.
type Signoff struct {
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	Statement string    `json:"statement,omitempty"`
	At        time.Time `json:"at"`
	// Surface says where it was given: "console".
	Surface string `json:"surface,omitempty"`
	// Key is the fingerprint (SHA256:...) of the SSH key that signed the
	// record, Signature the armored SSHSIG signature, and SignedHead the
	// hash of the journal's last event that the signature covers (see
	// SignedBytes). All empty for a sign-off not signed by key.
	Key        string `json:"key,omitempty"`
	Signature  string `json:"signature,omitempty"`
	SignedHead string `json:"signed_head,omitempty"`
}

// Where an answer, a decision or a signature was given.
const (
	SurfaceTerminal    = "terminal"
	SurfaceConsole     = "console"
	SurfaceAnswersFile = "answers-file"
)

// Summary counts items by status.
type Summary struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Warning int `json:"warning"`
	Skipped int `json:"skipped"`
	Pending int `json:"pending"`
	// Declined counts steps whose confirmation was refused.
	Declined int `json:"declined,omitempty"`
	// Informational counts the informational items that ran (passed,
	// failed or warning): they are counted here and not under their
	// status, since they never change the run's status.
	Informational int `json:"informational,omitempty"`
}

// Item is one check or step of a run.
type Item struct {
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Check names the declared check a step runs (step "x" { check = check.y }).
	Check    string `json:"check,omitempty"`
	Provider string `json:"provider"`
	// Action says in a few words what the item did ("GET http://…/health").
	Action     string     `json:"action,omitempty"`
	Status     string     `json:"status"`
	Expected   string     `json:"expected,omitempty"`
	StartedAt  *time.Time `json:"started_at"`
	DurationMS int64      `json:"duration_ms"`
	Attempts   int        `json:"attempts"`
	// Result is the provider's result object as JSON values.
	Result  map[string]any `json:"result"`
	Asserts []Assert       `json:"asserts"`
	Error   *string        `json:"error"`
	Answer  *Answer        `json:"answer"`
	// SkipReason says why a skipped item did not run.
	SkipReason string `json:"skip_reason,omitempty"`
	// Target is the target the item ran on (`on = target.NAME`); empty
	// for the runbook's own host.
	Target string `json:"target,omitempty"`
	// CarriedOver marks a passed result kept from an earlier run by
	// --resume, or a watch's scheduled check whose last result stands
	// until it is due again (StartedAt says when it ran).
	CarriedOver bool `json:"carried_over,omitempty"`
	// Confirm marks a mutating step (confirm = true).
	Confirm bool `json:"confirm,omitempty"`
	// Manual marks a human step.
	Manual bool `json:"manual,omitempty"`
	// Instructions are a manual step's instructions.
	Instructions string `json:"instructions,omitempty"`
	// Required marks a manual step that cannot be skipped (required = true).
	Required bool `json:"required,omitempty"`
	// Assignee names who should carry out the step (assignee = "sre").
	Assignee string `json:"assignee,omitempty"`
	// Decision records the answer to a confirm prompt: who, when, yes or no.
	Decision *Decision `json:"decision,omitempty"`
	// Flapping marks a check that `runbook watch` found changing health
	// too often (flap damping holds its alerts back).
	Flapping bool `json:"flapping,omitempty"`
	// Checks are the results of the checks a step is made of
	// (checks = [check.a, check.b]), in order; the step's status is the
	// worst of theirs and of its own asserts.
	Checks []Item `json:"checks,omitempty"`
	// Informational marks an item whose status is evidence only
	// (informational = true): it never changes the run's status.
	Informational bool `json:"informational,omitempty"`
	// ApprovalsNeeded is how many people other than the run's operator
	// must approve the step before it runs (confirm = { approvals = N }).
	ApprovalsNeeded int `json:"approvals_needed,omitempty"`
	// Approvals are the approvals given so far, in order.
	Approvals []Decision `json:"approvals,omitempty"`
	// Clock is an owned step's deadlines and when they were met
	// (assignee, ack_within, answer_within).
	Clock *Clock `json:"clock,omitempty"`
	// Score is the facilitator's score of the step (exercises).
	Score *Score `json:"score,omitempty"`
}

// Decision is an operator's answer to a mutating step's confirm prompt.
type Decision struct {
	Confirmed bool      `json:"confirmed"`
	Operator  string    `json:"operator"`
	At        time.Time `json:"at"`
	// By says how it was given: "prompt" (the terminal), "console", or
	// "--yes".
	By string `json:"by,omitempty"`
}

// Assert is the outcome of one assert block.
type Assert struct {
	Condition string `json:"condition"`
	Passed    bool   `json:"passed"`
	Severity  string `json:"severity"`
	Message   string `json:"message"`
}

// Answer is an operator's answer to a manual step.
type Answer struct {
	Status     string    `json:"status"`
	Note       string    `json:"note"`
	Operator   string    `json:"operator"`
	AnsweredAt time.Time `json:"answered_at"`
	// Surface says where it was given: "terminal", "console" or
	// "answers-file" (empty in records of earlier versions).
	Surface string `json:"surface,omitempty"`
}

// ReportOutput names a document rendered from the run.
type ReportOutput struct {
	Name     string `json:"name"`
	Template string `json:"template"`
	Path     string `json:"path"`
	// SHA256 is the hex SHA-256 of the document as written: the console
	// shows the file at Path only while it is still this document.
	SHA256 string `json:"sha256,omitempty"`
	// Roles are the roles its sign-off blocks ask to sign, in order.
	Roles []string `json:"roles,omitempty"`
}

// Tally recomputes Summary and the run status from the items, by the
// contract's rules: failed if any failed; else incomplete if any pending;
// else warning if any warning; else passed.
func (r *Run) Tally() {
	var s Summary
	for i := range r.Items {
		s.Count(r.Items[i].Status, r.Items[i].Informational)
	}
	r.Summary = s
	r.Status = RunStatus(s)
	// An interruption that left steps or checks unrun leaves the
	// procedure incomplete, not passed.
	if r.Interrupted && (r.Status == Passed || r.Status == Warning) {
		for _, it := range r.Items {
			if it.Status == Skipped && it.SkipReason == SkipInterrupted && it.Kind != KindCleanup {
				r.Status = Incomplete
				break
			}
		}
	}
}

// Count counts an item of status (informational or not) in s, as Tally
// counts each item.
func (s *Summary) Count(status string, informational bool) {
	// (CountsAsInformational, without an Item.)
	if informational && (status == Passed || status == Failed || status == Warning) {
		s.Informational++
		return
	}
	switch status {
	case Passed:
		s.Passed++
	case Failed:
		s.Failed++
	case Warning:
		s.Warning++
	case Skipped:
		s.Skipped++
	case Pending, Running:
		s.Pending++
	case Declined:
		s.Declined++
	}
}

// SkipInterrupted is the skip reason of an item an interruption kept
// from running.
const SkipInterrupted = "interrupted"

// CountsAsInformational reports whether an item is informational and ran
// to a verdict (passed, failed or warning): its status is evidence, never
// a reason for the run's status. An informational item that is skipped,
// pending or declined counts as any other.
func CountsAsInformational(it Item) bool {
	if !it.Informational {
		return false
	}
	switch it.Status {
	case Passed, Failed, Warning:
		return true
	}
	return false
}

// RunStatus is the run status that a summary implies.
func RunStatus(s Summary) string {
	switch {
	case s.Failed > 0:
		return Failed
	case s.Pending > 0 || s.Declined > 0:
		return Incomplete
	case s.Warning > 0:
		return Warning
	default:
		return Passed
	}
}

// Health maps a status to the monitoring vocabulary: HEALTHY, WARNING,
// CRITICAL or UNKNOWN.
func Health(status string) string {
	switch status {
	case Passed:
		return "HEALTHY"
	case Warning:
		return "WARNING"
	case Failed:
		return "CRITICAL"
	default:
		return "UNKNOWN"
	}
}

// Item returns the item with the given kind and name, or nil.
func (r *Run) Item(kind, name string) *Item {
	for i := range r.Items {
		if r.Items[i].Kind == kind && r.Items[i].Name == name {
			return &r.Items[i]
		}
	}
	return nil
}

// Read loads a run record from a JSON file.
func Read(path string) (*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read run record: %w", err)
	}
	var r Run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("parse run record %q: %w", path, err)
	}
	return &r, nil
}

// Marshal renders the record as indented JSON with a final newline.
func (r *Run) Marshal() ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// MarshalCompact renders the record as compact JSON with a final
// newline: the form the state stores (record files, the spool). Readers
// of a record (Read, json.Unmarshal) take either form. At 10,000 items
// it is 64% of the indented bytes and half the time to encode (no
// second pass to indent): BenchmarkMarshalRecord10000.
func (r *Run) MarshalCompact() ([]byte, error) {
	data, err := MarshalRun(r)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
