package views

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// Caps of the captured output a JUnit test case carries in <system-out>.
const (
	junitOutputLines = 100
	junitOutputBytes = 8 << 10
)

// junitSuites is the JUnit XML root that GitLab and Jenkins read.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

// junitSuite is one run.
type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

// junitProperty is one name/value pair of a suite.
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitCase is one item.
type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitFailure marks a failed item; the body holds asserts and the error.
type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",cdata"`
}

// junitText is element text kept readable as CDATA.
type junitText struct {
	Text string `xml:",cdata"`
}

// junitSkipped marks a skipped or pending item.
type junitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// newJUnit renders the run as JUnit XML: one <testsuite> per run, one
// <testcase> per item. Failed items carry a <failure>, and so do the ones
// that keep a run from being done — pending (not answered), declined (who
// and when) and running (never finished) — so an incomplete run never
// reads as green; skipped ones carry a <skipped>; warnings pass and are
// noted in <system-out>. A run that did not finish (interrupted,
// abandoned or still running) adds a failed "run" test case.
func newJUnit(Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		suiteName := run.Runbook
		if run.Playbook != nil && *run.Playbook != "" {
			suiteName += "/" + *run.Playbook
		}
		suite := junitSuite{
			Name:     suiteName,
			Tests:    len(run.Items),
			Time:     seconds(run.DurationMS),
			Hostname: run.Host,
		}
		if !run.StartedAt.IsZero() {
			suite.Timestamp = run.StartedAt.UTC().Format("2006-01-02T15:04:05")
		}
		for _, p := range [][2]string{
			{"run_id", run.ID}, {"status", run.Status}, {"document", run.Document},
			{"operator", run.Operator}, {"source", run.Source}, {"engine_version", run.EngineVersion},
		} {
			if p[1] != "" {
				suite.Properties = append(suite.Properties, junitProperty{Name: p[0], Value: p[1]})
			}
		}
		for _, it := range run.Items {
			c := junitCase{
				Classname: "runbook." + run.Runbook,
				Name:      it.Kind + "." + it.Name,
				Time:      seconds(it.DurationMS),
			}
			if out := junitOutput(it); out != "" {
				c.SystemOut = &junitText{Text: xmlChars(out)}
			}
			if record.CountsAsInformational(it) {
				// Evidence only: never a failure of the suite.
				suite.Cases = append(suite.Cases, c)
				continue
			}
			switch it.Status {
			case record.Failed:
				suite.Failures++
				typ := "assert"
				if it.Error != nil {
					typ = "error"
				}
				c.Failure = &junitFailure{Message: xmlChars(report.Detail(it)), Type: typ, Body: xmlChars(failureBody(it))}
			case record.Skipped:
				suite.Skipped++
				c.Skipped = &junitSkipped{Message: xmlChars(report.Detail(it))}
			case record.Pending, record.Declined, record.Running:
				suite.Failures++
				c.Failure = &junitFailure{Message: xmlChars(unfinishedMessage(it)), Type: it.Status, Body: xmlChars(failureBody(it))}
			}
			suite.Cases = append(suite.Cases, c)
		}
		if msg := runProblem(run); msg != "" {
			suite.Tests++
			suite.Failures++
			suite.Cases = append(suite.Cases, junitCase{
				Classname: "runbook." + run.Runbook,
				Name:      "run",
				Time:      seconds(run.DurationMS),
				Failure:   &junitFailure{Message: xmlChars(msg), Type: runProblemType(run)},
			})
		}
		doc := junitSuites{
			Name: "runbook", Tests: suite.Tests, Failures: suite.Failures,
			Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite},
		}
		data, err := xml.MarshalIndent(doc, "", "  ")
		if err != nil {
			return fmt.Errorf("encode junit: %w", err)
		}
		if _, err := io.WriteString(w, xml.Header); err != nil {
			return err
		}
		_, err = w.Write(append(data, '\n'))
		return err
	})
}

// xmlChars replaces what XML 1.0 cannot carry (NUL, ESC and other control
// characters, invalid UTF-8) with U+FFFD; CDATA sections are not escaped.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == utf8.RuneError, r >= 0xFFFE && r <= 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// seconds renders milliseconds as JUnit's decimal seconds.
func seconds(ms int64) string {
	return strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)
}

// unfinishedMessage says why an item that did not fail still fails the
// test case: a manual step nobody answered, a declined confirmation (who,
// when), an item that never finished.
func unfinishedMessage(it record.Item) string {
	switch it.Status {
	case record.Pending:
		return "pending: manual step not answered"
	case record.Declined:
		return report.DeclinedText(it)
	case record.Running:
		return "running: did not finish before the run stopped"
	}
	return report.Detail(it)
}

// runProblem says why a run did not finish, or is empty when it did:
// interrupted, abandoned (its process is gone) or still running.
func runProblem(run *record.Run) string {
	switch {
	case run.Status == record.Abandoned:
		return "run abandoned: its process stopped before the run finished"
	case run.Status == record.Running:
		return "run still running: this record is a snapshot of an unfinished run"
	case run.Interrupted && run.Signal != "":
		return "run interrupted (" + run.Signal + ") before it finished"
	case run.Interrupted:
		return "run interrupted before it finished"
	}
	return ""
}

// runProblemType is the failure type of the "run" test case.
func runProblemType(run *record.Run) string {
	if run.Status == record.Abandoned || run.Status == record.Running {
		return run.Status
	}
	return "interrupted"
}

// failureBody lists what failed: every failed assert and the error.
func failureBody(it record.Item) string {
	var b strings.Builder
	if it.Action != "" {
		fmt.Fprintf(&b, "action: %s\n", it.Action)
	}
	if it.Expected != "" {
		fmt.Fprintf(&b, "expected: %s\n", it.Expected)
	}
	for _, a := range it.Asserts {
		if a.Passed {
			continue
		}
		sev := a.Severity
		if sev == "" {
			sev = "critical"
		}
		fmt.Fprintf(&b, "failed %s assert: %s\n", sev, a.Condition)
		if a.Message != "" {
			fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(a.Message, "\n", "\n  "))
		}
	}
	if it.Error != nil {
		fmt.Fprintf(&b, "error: %s\n", *it.Error)
	}
	if it.Answer != nil {
		fmt.Fprintf(&b, "answered %s by %s: %s\n", it.Answer.Status, it.Answer.Operator, it.Answer.Note)
	}
	if d := report.DecisionText(it); d != "" {
		fmt.Fprintf(&b, "confirm prompt: %s\n", d)
	}
	if it.Manual && it.Instructions != "" && it.Status == record.Pending {
		fmt.Fprintf(&b, "instructions: %s\n", it.Instructions)
	}
	if note := report.TruncationNote(it); note != "" {
		fmt.Fprintf(&b, "%s\n", note)
	}
	if it.Attempts > 1 {
		fmt.Fprintf(&b, "attempts: %d\n", it.Attempts)
	}
	return b.String()
}

// junitOutput is a test case's <system-out>: failed warning asserts, a
// manual answer and a capped excerpt of the captured output.
func junitOutput(it record.Item) string {
	var b strings.Builder
	if record.CountsAsInformational(it) && it.Status != record.Passed {
		fmt.Fprintf(&b, "informational, %s", it.Status)
		if d := report.Detail(it); d != "" {
			fmt.Fprintf(&b, ": %s", d)
		}
		b.WriteString(" (it does not change the run's status)\n")
	}
	b.WriteString(checksText(it))
	warned := false
	for _, a := range it.Asserts {
		if !a.Passed && a.Severity == "warning" {
			fmt.Fprintf(&b, "warning: %s\n", report.FirstLine(a.Message))
			warned = true
		}
	}
	if it.Status == record.Warning && !warned {
		fmt.Fprintf(&b, "warning: %s\n", cmp.Or(report.Detail(it), "the item passed with a warning"))
	}
	if note := report.TruncationNote(it); note != "" {
		fmt.Fprintf(&b, "%s: the provider kept only the start\n", note)
	}
	if it.Answer != nil && it.Status != record.Failed {
		fmt.Fprintf(&b, "answered %s by %s at %s: %s\n", it.Answer.Status, it.Answer.Operator, report.DateTime(it.Answer.AnsweredAt), it.Answer.Note)
	}
	if d := report.DecisionText(it); d != "" && itemPasses(it) {
		fmt.Fprintf(&b, "confirm prompt: %s\n", d)
	}
	if out := report.Output(it); out != "" {
		b.WriteString(capOutput(out))
	}
	if errOut := report.Stderr(it); errOut != "" {
		b.WriteString("stderr:\n" + capOutput(errOut))
	}
	return b.String()
}

// itemPasses reports whether an item's test case carries no <failure>.
func itemPasses(it record.Item) bool {
	if record.CountsAsInformational(it) {
		return true
	}
	switch it.Status {
	case record.Failed, record.Pending, record.Declined, record.Running:
		return false
	}
	return true
}

// capOutput keeps the head of captured output within the JUnit caps and
// says when it cut.
func capOutput(s string) string {
	total := len(s)
	s = report.Excerpt(junitOutputLines, s)
	if len(s) > junitOutputBytes {
		cut := junitOutputBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "\n…"
	}
	if strings.HasSuffix(s, "…") {
		s += fmt.Sprintf(" (output cut; %d bytes in all)", total)
	}
	return s + "\n"
}

// checksText lists the checks of a step made of checks, one a line:
// "check.disk: warning: disk 95% full".
func checksText(it record.Item) string {
	var b strings.Builder
	for _, c := range it.Checks {
		fmt.Fprintf(&b, "check.%s: %s", c.Name, c.Status)
		if d := report.Detail(c); d != "" {
			fmt.Fprintf(&b, ": %s", d)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
