package golden

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Class says what kind of difference a Finding is.
type Class string

// The classes of difference, from the most to the least specific cause.
const (
	// VolatileLeak is a field that may differ between runs (a timestamp, a
	// duration) and leaked into the golden output.
	VolatileLeak Class = "VOLATILE_LEAK"
	// SeedMismatch is a pair whose seed field differs: the two runs did not
	// start from the same random state, so they are not comparable.
	SeedMismatch Class = "SEED_MISMATCH"
	// UnseededRNG is a difference between two random-looking values: a
	// generator that does not derive from the run's seed.
	UnseededRNG Class = "UNSEEDED_RNG"
	// ExternalCallVariation is a difference under the response of an
	// external call, which a replay cannot control.
	ExternalCallVariation Class = "EXTERNAL_CALL_VARIATION"
	// DeterminismViolation is any other difference: a real determinism bug.
	DeterminismViolation Class = "DETERMINISM_VIOLATION"
	// Missing is a file on the left without its counterpart on the right.
	Missing Class = "MISSING"
	// Extra is a file on the right without its counterpart on the left.
	Extra Class = "EXTRA"
	// Unreadable is a file that could not be read or is not valid JSON.
	Unreadable Class = "UNREADABLE"
)

// Classes lists every class in the order reports show them.
var Classes = []Class{
	DeterminismViolation, UnseededRNG, SeedMismatch, Missing, Unreadable,
	VolatileLeak, ExternalCallVariation, Extra,
}

// Severity is how bad a class is: a critical class fails a comparison, a
// warning does not.
type Severity string

// The severities.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
)

// Severity returns the severity of the class: warning for VOLATILE_LEAK,
// EXTERNAL_CALL_VARIATION and EXTRA, critical for the others.
func (c Class) Severity() Severity {
	switch c {
	case VolatileLeak, ExternalCallVariation, Extra:
		return Warning
	}
	return Critical
}

func (c Class) index() int {
	for i, k := range Classes {
		if k == c {
			return i
		}
	}
	return -1
}

// Counts holds a number per class. It marshals to a JSON object with one
// member per class, in the order of Classes.
type Counts [8]int

// Get returns the count of class c.
func (n *Counts) Get(c Class) int {
	if i := c.index(); i >= 0 {
		return n[i]
	}
	return 0
}

// Add adds d to the count of class c.
func (n *Counts) Add(c Class, d int) {
	if i := c.index(); i >= 0 {
		n[i] += d
	}
}

// Critical returns the sum of the counts of the critical classes.
func (n *Counts) Critical() int {
	total := 0
	for i, c := range Classes {
		if c.Severity() == Critical {
			total += n[i]
		}
	}
	return total
}

// Total returns the sum of all counts.
func (n *Counts) Total() int {
	total := 0
	for _, v := range n {
		total += v
	}
	return total
}

// MarshalJSON writes {"DETERMINISM_VIOLATION": n, …} in the order of Classes.
func (n Counts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range Classes {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", c, n[i])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes; unknown classes are an error.
func (n *Counts) UnmarshalJSON(data []byte) error {
	var m map[Class]int
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*n = Counts{}
	for c, v := range m {
		i := c.index()
		if i < 0 {
			return fmt.Errorf("unknown class %q", c)
		}
		n[i] = v
	}
	return nil
}

// Absent stands for a value or file that one side does not have. It is not
// valid JSON, so it never collides with a real value's text.
const Absent = "(absent)"

// Finding is one classified difference.
type Finding struct {
	// File names the pair (its relative path on the left, or on the right
	// when the left has none).
	File string `json:"file"`
	// Path is the flattened path of the differing field
	// (`steps[3].output.status`); "$" is the document itself, "" a
	// file-level finding (MISSING, EXTRA, UNREADABLE).
	Path  string `json:"path"`
	Class Class  `json:"class"`
	// Left and Right are the values as compact JSON text (cut at 200
	// bytes), or Absent. For MISSING and EXTRA they name the files; for
	// UNREADABLE the unreadable side holds the error.
	Left  string `json:"left"`
	Right string `json:"right"`
	// Hint says why the difference got its class and what to do about it.
	Hint string `json:"hint,omitempty"`
	// Line and Column locate a JSON syntax error (UNREADABLE only).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Related holds, under a SEED_MISMATCH, the pair's other differences
	// (classified as if the seeds matched, but not counted), at most
	// maxRelated of them; RelatedTotal counts them all.
	Related      []Finding `json:"related,omitempty"`
	RelatedTotal int       `json:"related_total,omitempty"`
}
