package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/internal/sshsig"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// sshNamespace is the SSHSIG namespace of runbook's signatures.
const sshNamespace = "runbook"

func newVerifyCmd(a *app) *cobra.Command {
	var stateFlag string
	cmd := &cobra.Command{
		Use:   "verify [RUN]",
		Short: "Check that a run's record, reports and signatures match its journal",
		Long: `Check a recorded run (default: the last) against its journal, the chain of
events written while it ran: that the chain is whole (each event carries the
hash of the one before and its own), that the stored record is what the
journal says, that every report rendered from the run is still the file it
was, and that every signature verifies. Exits 0 when all of it holds, 1
naming the first event or file that does not (and for a run without a
journal: runs recorded by earlier versions cannot be verified).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, run, err := a.recordedRun(cmd.Context(), stateFlag, args)
			if err != nil {
				return err
			}
			defer store.Close()
			p, err := proveRun(cmd.Context(), store, run)
			if err != nil {
				return exitWith(1, fmt.Errorf("run %s: %w", run.ID, err))
			}
			head := p.events[len(p.events)-1]
			if !state.Final(run) {
				fmt.Fprintf(a.stdout, "run %s: has not ended; its journal is whole so far (%d events, head %s)\n", run.ID, len(p.events), head.Hash)
				return nil
			}
			fmt.Fprintf(a.stdout, "run %s: intact (%d events, head %s; %d reports, %d signatures)\n", run.ID, len(p.events), head.Hash, p.reports, len(p.signatures))
			for _, s := range p.signatures {
				// Say what it vouches for: the journal up to the event it signed.
				covers := slices.IndexFunc(p.events, func(e record.Event) bool { return e.Hash == s.SignedHead }) + 1
				fmt.Fprintf(a.stdout, "  signed by %s as %s with %s at %s, over journal events 1–%d of %d\n", s.Name, s.Role, s.Key, s.At.Format("2006-01-02 15:04:05Z07:00"), covers, len(p.events))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL")
	return cmd
}

// proof is what proveRun checked.
type proof struct {
	events     []record.Event
	folded     *record.Run
	reports    int
	signatures []record.Signoff
}

// errNoJournal is a run without a journal.
var errNoJournal = errors.New("it has no journal (it was recorded by an earlier version of runbook, or its journal is gone): it cannot be verified")

// runEvents reads a run's journal and checks its chain.
func runEvents(ctx context.Context, store state.Store, run *record.Run) ([]record.Event, error) {
	el, ok := store.(state.EventLog)
	if !ok {
		return nil, fmt.Errorf("the state %s keeps no journals", store.Location())
	}
	events, err := el.Events(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, errNoJournal
	}
	if err := record.CheckChain(events); err != nil {
		return nil, err
	}
	return events, nil
}

// proveRun checks a run against its journal (see newVerifyCmd) and
// returns the first thing that does not match.
func proveRun(ctx context.Context, store state.Store, run *record.Run) (*proof, error) {
	events, err := runEvents(ctx, store, run)
	if err != nil {
		return nil, err
	}
	p := &proof{events: events}
	if p.folded, err = record.Fold(events); err != nil {
		return nil, err
	}
	if state.Final(run) {
		d, err := record.Diff(run, p.folded)
		if err != nil {
			return nil, err
		}
		if d != "" {
			return nil, fmt.Errorf("record: %s", d)
		}
	} else if p.folded.ID != run.ID {
		return nil, fmt.Errorf("record: id is %q, the journal says %q", run.ID, p.folded.ID)
	}
	// Each report as last rendered, in the journal's order.
	latest := map[string]int{}
	var names []string
	for i, e := range events {
		if e.Type != record.EventReport {
			continue
		}
		var o record.ReportOutput
		if err := json.Unmarshal(e.Data, &o); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Label(), err)
		}
		if _, ok := latest[o.Name]; !ok {
			names = append(names, o.Name)
		}
		latest[o.Name] = i
	}
	for _, n := range names {
		e := events[latest[n]]
		var o record.ReportOutput
		_ = json.Unmarshal(e.Data, &o)
		data, err := os.ReadFile(o.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("report %s (%s): the file is gone (rendered in %s)", o.Name, o.Path, e.Label())
		}
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", o.Name, err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != o.SHA256 {
			return nil, fmt.Errorf("report %s (%s): the file does not match its digest in %s (sha256 %s, the journal says %s)", o.Name, o.Path, e.Label(), got, o.SHA256)
		}
		p.reports++
	}
	for i, e := range events {
		if e.Type != record.EventSignature {
			continue
		}
		var s record.Signoff
		if err := json.Unmarshal(e.Data, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Label(), err)
		}
		if err := checkSignature(events[:i], s); err != nil {
			return nil, fmt.Errorf("%s by %s as %s: %w", e.Label(), s.Name, s.Role, err)
		}
		p.signatures = append(p.signatures, s)
	}
	return p, nil
}

// checkSignature verifies a signature against the record the journal
// before it folds to, up to the event it names as signed.
func checkSignature(before []record.Event, s record.Signoff) error {
	n := -1
	for i, e := range before {
		if e.Hash == s.SignedHead {
			n = i + 1
		}
	}
	if n < 0 {
		return fmt.Errorf("it signs event %s, which is not in the journal before it", short(s.SignedHead))
	}
	msg, err := record.SignedBytes(before[:n])
	if err != nil {
		return err
	}
	key, err := sshsig.Verify([]byte(s.Signature), sshNamespace, msg)
	if err != nil {
		return fmt.Errorf("the signature does not verify: %w", err)
	}
	if fp := sshsig.Fingerprint(key); fp != s.Key {
		return fmt.Errorf("the signature was made by key %s, the journal says %s", fp, s.Key)
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// canonicalBytes returns what a signature of the run covers: see
// record.SignedBytes; upTo (> 0) stops at that event.
func canonicalBytes(ctx context.Context, store state.Store, run *record.Run, upTo int64) ([]byte, []record.Event, error) {
	events, err := runEvents(ctx, store, run)
	if err != nil {
		return nil, nil, err
	}
	if upTo > 0 {
		if upTo > int64(len(events)) {
			return nil, nil, fmt.Errorf("the journal has %d events, not %d", len(events), upTo)
		}
		events = events[:upTo]
	}
	data, err := record.SignedBytes(events)
	return data, events, err
}

// journalReports records reports rendered again from a finished run
// (runbook report RUN): a report event each in the run's journal, and
// the record's new list of reports, so that verify checks the new files.
// A run without a journal is left as it is.
func (a *app) journalReports(ctx context.Context, store state.Store, run *record.Run) error {
	el, ok := store.(state.EventLog)
	if !ok || !state.Final(run) || len(run.Reports) == 0 {
		return nil
	}
	evs, err := el.Events(ctx, run.ID)
	if err != nil || len(evs) == 0 {
		return err
	}
	var add []record.Event
	for _, r := range run.Reports {
		add = append(add, record.Event{Type: record.EventReport, Item: "report." + r.Name, Actor: a.operator(""), Surface: record.SurfaceTerminal, Data: mustJSON(r)})
	}
	if _, err := el.AppendEvents(ctx, run.ID, add); err != nil {
		return fmt.Errorf("record the reports in the run's journal: %w", err)
	}
	if _, err := store.SaveRun(ctx, run); err != nil {
		return fmt.Errorf("record the reports in the run record: %w", err)
	}
	return nil
}
