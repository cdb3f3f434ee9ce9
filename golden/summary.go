package golden

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Tally counts the results of a scan.
type Tally struct {
	// Files counts the pairs compared (a MISSING or EXTRA file is a pair).
	Files int `json:"files"`
	// Identical counts the pairs without any finding.
	Identical int `json:"identical"`
	// Bytes is the size of every file read.
	Bytes int64 `json:"bytes"`
	// Counts counts the findings per class.
	Counts Counts `json:"counts"`
	// FilesWith counts, per class, the pairs with at least one finding of
	// that class.
	FilesWith Counts `json:"files_with"`
}

// Add counts one pair's result.
func (t *Tally) Add(r *PairResult) {
	t.Files++
	t.Bytes += r.Bytes
	if r.Identical() {
		t.Identical++
	}
	for i, n := range r.Counts {
		t.Counts[i] += n
		if n > 0 {
			t.FilesWith[i]++
		}
	}
}

// Critical reports whether any critical class was found.
func (t *Tally) Critical() bool { return t.Counts.Critical() > 0 }

// DefaultWorst is how many worst files a Summary keeps by default.
const DefaultWorst = 10

// firstPaths is how many differing paths a worst file lists.
const firstPaths = 5

// Summary aggregates the scan of one or more shadow-run directories.
type Summary struct {
	Tally
	// Critical is true when a critical class was found (the exit code 1).
	Critical bool `json:"critical"`
	// Dirs tallies each directory on its own.
	Dirs []DirTally `json:"dirs"`
	// Worst lists the files with the most critical findings, then the most
	// findings, at most the Summary's keep limit.
	Worst []WorstFile `json:"worst"`

	keep int
}

// DirTally is the tally of one directory of a summary.
type DirTally struct {
	Dir  string `json:"dir"`
	Rule string `json:"rule"`
	Tally
}

// WorstFile is one of the files with the most findings.
type WorstFile struct {
	File     string `json:"file"`
	Critical int    `json:"critical"`
	Findings int    `json:"findings"`
	Counts   Counts `json:"counts"`
	// First lists the first differing paths with their classes.
	First []PathClass `json:"first"`
}

// PathClass is a differing path and its class.
type PathClass struct {
	Path  string `json:"path"`
	Class Class  `json:"class"`
}

// NewSummary returns an empty summary that keeps the worst keep files
// (DefaultWorst when keep <= 0).
func NewSummary(keep int) *Summary {
	if keep <= 0 {
		keep = DefaultWorst
	}
	return &Summary{keep: keep, Dirs: []DirTally{}, Worst: []WorstFile{}}
}

// StartDir begins the tally of a directory; the results added next count
// for it.
func (s *Summary) StartDir(dir string, rule PairRule) {
	s.Dirs = append(s.Dirs, DirTally{Dir: dir, Rule: rule.String()})
}

// Add counts one pair's result and keeps it among the worst files if it
// is one of them.
func (s *Summary) Add(r *PairResult) {
	s.Tally.Add(r)
	s.Critical = s.Tally.Critical()
	if len(s.Dirs) > 0 {
		s.Dirs[len(s.Dirs)-1].Add(r)
	}
	if r.Identical() {
		return
	}
	w := WorstFile{File: r.Pair.Name, Critical: r.Counts.Critical(), Findings: r.Counts.Total(), Counts: r.Counts}
	worse := func(a, b *WorstFile) int {
		if a.Critical != b.Critical {
			return b.Critical - a.Critical
		}
		if a.Findings != b.Findings {
			return b.Findings - a.Findings
		}
		return strings.Compare(a.File, b.File)
	}
	i, _ := slices.BinarySearchFunc(s.Worst, &w, func(e WorstFile, t *WorstFile) int { return worse(&e, t) })
	if i >= s.keep {
		return
	}
	for _, f := range r.Findings {
		if len(w.First) == firstPaths {
			break
		}
		w.First = append(w.First, PathClass{Path: f.Path, Class: f.Class})
	}
	s.Worst = slices.Insert(s.Worst, i, w)
	if len(s.Worst) > s.keep {
		s.Worst = s.Worst[:s.keep]
	}
}

// WriteJSON writes the summary as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

// ReportWriter streams the findings of a `golden diff` to w as one JSON
// object, so that a scan of any size keeps only one pair in memory:
//
//	{"left": …, "right": …, "findings": [ … ],
//	 "files": …, "identical": …, "bytes": …, "counts": {…},
//	 "files_with": {…}, "critical": …, "dropped": …}
//
// Call Add for each result, then Close.
type ReportWriter struct {
	w       *bufio.Writer
	buf     bytes.Buffer
	enc     *json.Encoder
	tally   Tally
	dropped int
	n       int
	err     error
}

// NewReportWriter starts a report of the comparison of left with right.
func NewReportWriter(w io.Writer, left, right string) *ReportWriter {
	bw := bufio.NewWriter(w)
	rw := &ReportWriter{w: bw}
	rw.enc = json.NewEncoder(&rw.buf)
	rw.enc.SetEscapeHTML(false)
	l, _ := json.Marshal(left)
	r, _ := json.Marshal(right)
	_, rw.err = fmt.Fprintf(bw, "{\n  \"left\": %s,\n  \"right\": %s,\n  \"findings\": [", l, r)
	return rw
}

// Add writes one pair's findings and counts it.
func (rw *ReportWriter) Add(r *PairResult) error {
	rw.tally.Add(r)
	rw.dropped += r.Dropped
	for i := range r.Findings {
		if rw.err != nil {
			return rw.err
		}
		sep := ",\n    "
		if rw.n == 0 {
			sep = "\n    "
		}
		rw.n++
		rw.buf.Reset()
		if rw.err = rw.enc.Encode(&r.Findings[i]); rw.err != nil {
			return rw.err
		}
		rw.w.WriteString(sep)
		_, rw.err = rw.w.Write(bytes.TrimSuffix(rw.buf.Bytes(), []byte{'\n'}))
	}
	return rw.err
}

// Close writes the counts and flushes.
func (rw *ReportWriter) Close() error {
	if rw.err != nil {
		return rw.err
	}
	tail := struct {
		Tally
		Critical bool `json:"critical"`
		Dropped  int  `json:"dropped"`
	}{rw.tally, rw.tally.Critical(), rw.dropped}
	b, err := json.Marshal(tail)
	if err != nil {
		return err
	}
	end := "\n  ],\n  "
	if rw.n == 0 {
		end = "],\n  "
	}
	// Splice the tally's members after "findings".
	if _, err := fmt.Fprintf(rw.w, "%s%s\n", end, b[1:]); err != nil {
		return err
	}
	return rw.w.Flush()
}

// Tally returns what the report has counted so far.
func (rw *ReportWriter) Tally() Tally { return rw.tally }
