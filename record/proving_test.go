package record

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProvingPythonRecipe: the Python recipe of docs/proving.md verifies a
// journal the Sealer wrote (as the state does), whatever its numbers and
// strings hold.
func TestProvingPythonRecipe(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	doc, err := os.ReadFile("../docs/proving.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(doc), "### How an event's hash is computed")
	_, after, ok := strings.Cut(after, "```python\n")
	recipe, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 || !strings.Contains(recipe, "runs/ID.events.jsonl") {
		t.Fatal("docs/proving.md: no Python recipe reading runs/ID.events.jsonl")
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	result, _ := json.Marshal(map[string]any{"latency": 0.0000001, "big": 1e21, "n": 12345678901234567890.0, "status": 200.0, "out": "a\u2028b <x> & \"q\" \x01\t é 😀", "empty": map[string]any{}, "list": []any{[]any{}, map[string]any{}}})
	datas := []string{
		string(result),
		`{"n":-0,"m":1E5,"f":1.50,"g":-1.5e-300,"i":123456789012345678901234567890}`,
		`{"z":1,"é":2,"Z":3,"😀":4,"\uffff":5,"a":{"c":[1,{"b":null,"a":true}]}}`,
		`"\u2028\u2029 \u0000 \u007f \/"`,
		`[]`,
	}
	var journal []byte
	var prev *Event
	var s Sealer
	for i, d := range datas {
		e := &Event{Type: EventScore, Item: "step.s", OccurredAt: now, RecordedAt: now, Actor: "ann\u2028<op>", Surface: "terminal", Data: json.RawMessage(d)}
		if line, err := s.Seal(nil, prev, e); err != nil {
			t.Fatalf("data %d: %v", i, err)
		} else {
			journal = append(append(journal, line...), '\n')
		}
		prev = e
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.jsonl")
	if err := os.WriteFile(path, journal, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "verify.py")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(recipe, "runs/ID.events.jsonl", path)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(python, script)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("the recipe refuses the journal: %v\n%s\njournal:\n%s", err, stderr.String(), journal)
	}
}
