package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// progress prints a line per finished item; on a terminal it also keeps a
// status line of what is running, rewritten in place.
type progress struct {
	w       io.Writer
	live    bool
	color   bool
	mu      sync.Mutex
	running map[string]bool
	done    int
	// paused stops redrawing the status line while a prompt is showing.
	paused bool
}

func newProgress(w io.Writer, live, color bool) *progress {
	return &progress{w: w, live: live, color: color, running: map[string]bool{}}
}

func itemLabel(it record.Item) string { return it.Kind + "." + it.Name }

// Started notes an item as running.
func (p *progress) Started(it record.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[itemLabel(it)] = true
	p.redraw()
}

// Finished prints the item's outcome.
func (p *progress) Finished(it record.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, itemLabel(it))
	p.done++
	p.paused = false
	p.clear()
	line := fmt.Sprintf("%s %-28s %6dms", p.badge(it.Status), itemLabel(it), it.DurationMS)
	if it.Title != "" {
		line += "  " + report.Printable(it.Title)
	}
	if d := detail(it); d != "" && it.Status != record.Passed {
		line += "\n         " + report.Printable(d)
	}
	fmt.Fprintln(p.w, line)
	p.redraw()
}

// Pause clears the status line and keeps it away until the next item
// finishes: a prompt is about to be shown.
func (p *progress) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.paused = true
}

// Close clears the status line.
func (p *progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *progress) clear() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) redraw() {
	if !p.live || p.paused || len(p.running) == 0 {
		return
	}
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	sort.Strings(names)
	s := strings.Join(names, ", ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	fmt.Fprintf(p.w, "\r\033[K  … running %s (%d done)", s, p.done)
}

var badges = map[string]struct {
	word  string
	color text.Colors
}{
	record.Passed:   {"PASS", text.Colors{text.FgGreen}},
	record.Failed:   {"FAIL", text.Colors{text.FgRed, text.Bold}},
	record.Warning:  {"WARN", text.Colors{text.FgYellow}},
	record.Skipped:  {"SKIP", text.Colors{text.FgHiBlack}},
	record.Pending:  {"PEND", text.Colors{text.FgCyan}},
	record.Declined: {"DECL", text.Colors{text.FgMagenta, text.Bold}},
	record.Running:  {"RUN ", text.Colors{text.FgCyan}},
}

func (p *progress) badge(status string) string {
	b, ok := badges[status]
	if !ok {
		return fmt.Sprintf("[%s]", status)
	}
	s := fmt.Sprintf("[%s]", b.word)
	if p.color {
		return b.color.Sprint(s)
	}
	return s
}

// detail is the one-line reason an item did not pass.
func detail(it record.Item) string {
	var s string
	switch {
	case it.Error != nil:
		s = *it.Error
	case it.SkipReason != "":
		s = it.SkipReason
	case it.Status == record.Declined && it.Decision != nil:
		s = fmt.Sprintf("declined by %s; the procedure ends here (--resume runs it again)", it.Decision.Operator)
	case it.Status == record.Pending && it.Manual:
		s = "manual step awaiting an answer (--answers FILE, or run on a terminal)"
	default:
		for _, a := range it.Asserts {
			if !a.Passed {
				s = a.Message
				break
			}
		}
	}
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}
