package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/record"
)

// terminalPrompter asks the operator on a terminal. Prompts are serialized:
// one question at a time.
type terminalPrompter struct {
	in       *bufio.Reader
	out      io.Writer
	operator string
	// before runs before each question, to clear the live progress line.
	before func()
	mu     sync.Mutex
	// pending is a read of a line still under way from a question given
	// up (Ctrl-C): the next question takes that line rather than start a
	// second reader of the same input.
	pending chan lineResult
}

// lineResult is one line read from the operator's input.
type lineResult struct {
	s   string
	err error
}

func newTerminalPrompter(in io.Reader, out io.Writer, operator string) *terminalPrompter {
	return &terminalPrompter{in: bufio.NewReader(in), out: out, operator: operator}
}

// readLine reads one line, giving up as soon as ctx is done (the read
// itself goes on, for the next question). Callers hold p.mu.
func (p *terminalPrompter) readLine(ctx context.Context) (string, error) {
	if p.pending == nil {
		ch := make(chan lineResult, 1)
		go func() {
			s, err := p.in.ReadString('\n')
			ch <- lineResult{s, err}
		}()
		p.pending = ch
	}
	select {
	case r := <-p.pending:
		p.pending = nil
		if r.err != nil && r.s == "" {
			return "", fmt.Errorf("no answer: %w", r.err)
		}
		return strings.TrimSpace(r.s), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// header clears the progress line and introduces a question about it;
// format takes the step's name and title.
func (p *terminalPrompter) header(format string, it *record.Item) {
	if p.before != nil {
		p.before()
	}
	title := it.Title
	if title == "" {
		title = it.Name
	}
	fmt.Fprintf(p.out, "\n"+format+"\n", it.Name, title)
}

// Confirm asks "run this step? [y/N]".
func (p *terminalPrompter) Confirm(ctx context.Context, it *record.Item) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.header("⚠ step %s changes things: %s", it)
	if it.Action != "" {
		fmt.Fprintf(p.out, "  %s\n", it.Action)
	}
	fmt.Fprint(p.out, "  Run it? [y/N] ")
	line, err := p.readLine(ctx)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(line) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// Answer shows a manual step's instructions and asks pass/fail/skip and a
// note.
func (p *terminalPrompter) Answer(ctx context.Context, it *record.Item) (*record.Answer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.header("✋ manual step %s: %s", it)
	if it.Instructions != "" {
		for _, l := range strings.Split(strings.TrimSpace(it.Instructions), "\n") {
			fmt.Fprintf(p.out, "  %s\n", l)
		}
	}
	if it.Expected != "" {
		fmt.Fprintf(p.out, "  Expected: %s\n", it.Expected)
	}
	question := "  Result? [p]assed / [f]ailed / [s]kipped: "
	if it.Required {
		question = "  Result (required: it cannot be skipped)? [p]assed / [f]ailed: "
	}
	var status string
	for status == "" {
		fmt.Fprint(p.out, question)
		line, err := p.readLine(ctx)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(line) {
		case "p", "pass", "passed":
			status = record.Passed
		case "f", "fail", "failed":
			status = record.Failed
		case "s", "skip", "skipped":
			if it.Required {
				fmt.Fprintln(p.out, "  This step is required and cannot be skipped: answer passed or failed (or press Ctrl-C to stop; it stays pending).")
				continue
			}
			status = record.Skipped
		}
	}
	fmt.Fprint(p.out, "  Note (optional): ")
	note, err := p.readLine(ctx)
	if err != nil {
		return nil, err
	}
	return &record.Answer{Status: status, Note: note, Operator: p.operator, AnsweredAt: time.Now().UTC(), Surface: record.SurfaceTerminal}, nil
}

// AbandonCleanup asks, after a second Ctrl-C while cleanups run, whether
// to abandon them: "abandon cleanup? [y/N]". Anything but yes, or no
// answer before ctx is done, keeps cleaning up.
func (p *terminalPrompter) AbandonCleanup(ctx context.Context) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.before != nil {
		p.before()
	}
	fmt.Fprint(p.out, "\nCleanup is still running. Abandon cleanup? [y/N] ")
	line, err := p.readLine(ctx)
	if err != nil {
		return false
	}
	switch strings.ToLower(line) {
	case "y", "yes":
		return true
	}
	return false
}
