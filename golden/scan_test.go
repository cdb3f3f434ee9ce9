package golden

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// dirWant is what every directory form of the fixtures must give: one
// pair per fixture case plus one MISSING and one EXTRA file.
func dirWant(prefix, ext string) map[string]Class {
	return map[string]Class{
		prefix + "external" + ext:   ExternalCallVariation,
		prefix + "identical" + ext:  "",
		prefix + "rng" + ext:        UnseededRNG,
		prefix + "seed" + ext:       SeedMismatch,
		prefix + "unreadable" + ext: Unreadable,
		prefix + "violation" + ext:  DeterminismViolation,
		prefix + "volatile" + ext:   VolatileLeak,
	}
}

func TestResolveAndScanDirectories(t *testing.T) {
	subdirs := dirWant("primary/batch-1/", ".json")
	subdirs["primary/missing.json"] = Missing
	subdirs["replay/extra.json"] = Extra
	suffix := dirWant("", ".json")
	suffix["missing.json"] = Missing
	suffix["extra.replay.json"] = Extra
	for _, tc := range []struct {
		name        string
		left, right string
		rule        *PairRule
		want        map[string]Class
	}{
		{"two directories", "testdata/dirs/left", "testdata/dirs/right", nil, func() map[string]Class {
			w := dirWant("", ".json")
			w["missing.json"] = Missing
			w["extra.json"] = Extra
			return w
		}()},
		{"one directory with replay suffix", "testdata/shadow", "", nil, suffix},
		{"one directory with primary and replay", "testdata/shadow-subdirs", "", nil, subdirs},
		{"explicit rule", "testdata/shadow-subdirs", "", &PairRule{Left: "primary/batch-1/{id}.json", Right: "replay/batch-1/{id}.json"},
			dirWant("primary/batch-1/", ".json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs, err := Resolve(tc.left, tc.right, tc.rule)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			c := newComparer(t, Options{})
			got := map[string]Class{}
			var names []string
			var tally Tally
			err = c.Scan(context.Background(), pairs, 3, func(r *PairResult) error {
				names = append(names, r.Pair.Name)
				tally.Add(r)
				got[r.Pair.Name] = ""
				for _, f := range r.Findings {
					if f.File != r.Pair.Name {
						t.Errorf("finding file: got %q want %q", f.File, r.Pair.Name)
					}
					got[r.Pair.Name] = f.Class
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("class per file (-want +got):\n%s", diff)
			}
			for i := 1; i < len(names); i++ {
				if names[i-1] >= names[i] {
					t.Errorf("results out of order: %q before %q", names[i-1], names[i])
				}
			}
			if tally.Files != len(tc.want) || tally.Identical != 1 {
				t.Errorf("tally: got %d files, %d identical want %d, 1", tally.Files, tally.Identical, len(tc.want))
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct{ name, left, right string }{
		{"no such left", "testdata/nope", "testdata/dirs/right"},
		{"no such right", "testdata/dirs/left", "testdata/nope"},
		{"file against directory", "testdata/pairs/seed/left.json", "testdata/dirs/right"},
		{"single file", "testdata/pairs/seed/left.json", ""},
		{"a directory with itself by one pattern", "testdata/shadow", "testdata/shadow/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Resolve(tc.left, tc.right, nil); err == nil {
				t.Errorf("Resolve(%q, %q): got no error", tc.left, tc.right)
			}
		})
	}
}

func TestScanStops(t *testing.T) {
	dir := t.TempDir()
	var pairs []Pair
	for i := range 200 {
		p := filepath.Join(dir, fmt.Sprintf("%03d.json", i))
		if err := os.WriteFile(p, []byte(`{"a":1}`), 0o644); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, Pair{Name: p, Left: p, Right: p})
	}
	c := newComparer(t, Options{})
	t.Run("emit error", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := c.Scan(context.Background(), pairs, 4, func(*PairResult) error {
			n++
			if n == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 10 {
			t.Errorf("got %v after %d results, want stop after 10", err, n)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := c.Scan(ctx, pairs, 4, func(*PairResult) error {
			n++
			if n == 5 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n >= len(pairs) {
			t.Errorf("got %v after %d results, want context.Canceled before %d", err, n, len(pairs))
		}
	})
}

func TestSummary(t *testing.T) {
	c := newComparer(t, Options{})
	s := NewSummary(3)
	for _, dir := range []string{"testdata/shadow", "testdata/shadow-subdirs"} {
		rule := DetectRule(dir)
		pairs, err := Pairs(dir, dir, rule)
		if err != nil {
			t.Fatal(err)
		}
		s.StartDir(dir, rule)
		if err := c.Scan(context.Background(), pairs, 2, func(r *PairResult) error { s.Add(r); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if s.Files != 18 || s.Identical != 2 || !s.Critical {
		t.Errorf("got %d files, %d identical, critical %v; want 18, 2, true", s.Files, s.Identical, s.Critical)
	}
	if got := s.Counts.Get(DeterminismViolation); got != 14 {
		t.Errorf("DETERMINISM_VIOLATION: got %d want 14", got)
	}
	if got := s.FilesWith.Get(VolatileLeak); got != 2 {
		t.Errorf("files with VOLATILE_LEAK: got %d want 2", got)
	}
	if len(s.Dirs) != 2 || s.Dirs[0].Files != 9 || s.Dirs[1].Rule != SubdirRule.String() {
		t.Errorf("dirs: got %+v", s.Dirs)
	}
	var worst []string
	for _, w := range s.Worst {
		worst = append(worst, w.File)
	}
	want := []string{"primary/batch-1/violation.json", "violation.json", "primary/batch-1/rng.json"}
	if diff := cmp.Diff(want, worst); diff != "" {
		t.Errorf("worst files (-want +got):\n%s", diff)
	}
	if len(s.Worst[0].First) != firstPaths || s.Worst[0].First[0].Path != "steps[0].output.count" {
		t.Errorf("first paths of the worst file: got %+v", s.Worst[0].First)
	}
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Files  int    `json:"files"`
		Counts Counts `json:"counts"`
		Worst  []WorstFile
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("summary JSON does not read back: %v\n%s", err, buf.String())
	}
	if back.Files != s.Files || back.Counts != s.Counts || len(back.Worst) != 3 {
		t.Errorf("read back: got %d files, %v, %d worst", back.Files, back.Counts, len(back.Worst))
	}
}

func TestReportWriter(t *testing.T) {
	c := newComparer(t, Options{})
	for _, tc := range []struct {
		name  string
		cases []string
	}{
		{"empty", nil},
		{"identical", []string{"identical"}},
		{"several", []string{"volatile", "seed", "unreadable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			rw := NewReportWriter(&buf, "a<b", "c")
			var want []Finding
			for _, name := range tc.cases {
				r := c.CompareFiles(fixturePair(name))
				want = append(want, r.Findings...)
				if err := rw.Add(&r); err != nil {
					t.Fatal(err)
				}
			}
			if err := rw.Close(); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Left, Right string
				Findings    []Finding
				Files       int
				Counts      Counts
				Critical    bool
			}
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("report is not JSON: %v\n%s", err, buf.String())
			}
			if got.Left != "a<b" || got.Files != len(tc.cases) || got.Counts != rw.Tally().Counts {
				t.Errorf("got left %q, %d files, %v; want a<b, %d, %v", got.Left, got.Files, got.Counts, len(tc.cases), rw.Tally().Counts)
			}
			if diff := cmp.Diff(want, got.Findings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
