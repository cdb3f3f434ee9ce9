package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/yuin/goldmark"
)

//go:embed assets
var assets embed.FS

func staticFS() fs.FS {
	sub, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return assets
	}
	return sub
}

// pageSet holds a template per page, each with the layout.
type pageSet struct {
	t map[string]*template.Template
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.UTC().Format("15:04:05")
	},
	"duration": func(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() },
	"excerpt": func(n int, s string) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
	"playbook": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
}

func parsePages() (*pageSet, error) {
	ps := &pageSet{t: map[string]*template.Template{}}
	for _, name := range []string{"runs", "run", "stop", "login", "error", "report"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse console page %s: %w", name, err)
		}
		ps.t[name] = t
	}
	return ps, nil
}

// view is the dot of every page.
type view struct {
	Title string
	Me    identity
	CSRF  string
	// Page is the page's own data.
	Page any
}

// render renders a page; nothing is written when it fails.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, id identity, data any) {
	title := map[string]string{"runs": "Runs", "run": "Run", "stop": "Emergency stop", "login": "Log in", "error": "Error", "report": "Report"}[name]
	v := view{Title: title, Me: id, Page: data}
	if id.Via != "" {
		v.CSRF = s.csrfToken(id)
	}
	var buf bytes.Buffer
	if err := s.pages.t[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.opts.Logf("console: render %s: %v", name, err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.WriteHeader(code)
	s.render(w, r, "error", identity{}, map[string]any{"Code": code, "Status": http.StatusText(code), "Message": msg})
}

// runsPage is the dot's Page of the runs list.
type runsPage struct {
	Runs                  []RunSummary
	Runbook, Mode, Status string
	Runbooks              []string
	Stop                  state.StopState
	Health                []healthView
	Statuses, Modes       []string
}

// healthView is the current health of a watch's checks: its latest cycle.
type healthView struct {
	Runbook string
	At      time.Time
	Items   []record.Item
}

func (s *Server) pageRuns(w http.ResponseWriter, r *http.Request, id identity) error {
	q := r.URL.Query()
	runs, err := s.listRuns(r.Context(), q, true)
	if err != nil {
		return err
	}
	p := runsPage{Runs: runs, Runbook: q.Get("runbook"), Mode: q.Get("mode"), Status: q.Get("status"),
		Statuses: []string{"running", "passed", "warning", "failed", "incomplete", "abandoned"},
		Modes:    []string{"exec", "check", "watch"}}
	seen := map[string]bool{}
	health := map[string]bool{}
	err = s.store.Runs(r.Context(), state.Filter{}, func(e state.RunEntry) bool {
		if e.Err != nil || e.Run == nil {
			return true
		}
		if !seen[e.Run.Runbook] {
			seen[e.Run.Runbook] = true
			p.Runbooks = append(p.Runbooks, e.Run.Runbook)
		}
		if e.Run.Mode == "watch" && !health[e.Run.Runbook] {
			health[e.Run.Runbook] = true
			p.Health = append(p.Health, healthView{Runbook: e.Run.Runbook, At: e.Run.StartedAt, Items: e.Run.Items})
		}
		return len(seen) < 100
	})
	if err != nil {
		return err
	}
	sort.Strings(p.Runbooks)
	if p.Stop, err = s.store.Stop(r.Context()); err != nil {
		return err
	}
	s.render(w, r, "runs", id, p)
	return nil
}

// itemView is one line of a run's checklist.
type itemView struct {
	record.Item
	// Waiting is the step's open question.
	Waiting  *state.Question
	Evidence string
	// Mine marks a step assigned to the participant looking.
	Mine bool
	// Clock is an owned step's countdown while it waits.
	Clock *clockView
}

// roleView is one role of a run's report.
type roleView struct {
	Role   string
	Signed *record.Signoff
}

// runPage is the dot's Page of one run.
type runPage struct {
	Run     *record.Run
	Items   []itemView
	Roles   []roleView
	Live    bool
	Waiting int
	// As is whose steps are highlighted (the participant's name, or a
	// team chosen on the page); Assignees are the run's.
	As        string
	Assignees []string
	// Exercise is the exercise's injects and pause; nil for a real run.
	Exercise *exerciseView
	// Upto is the journal's length, which a signature by key covers, and
	// SignCommand prints what to sign (empty when the run cannot be
	// signed by key).
	Upto        int64
	SignCommand string
}

// evidence is what an item's result shows: its output, or its result.
func evidence(it record.Item) string {
	if it.Result == nil {
		return ""
	}
	for _, k := range []string{"stdout", "body"} {
		if v, ok := it.Result[k].(string); ok && strings.TrimSpace(v) != "" {
			if len(v) > 2000 {
				v = v[:2000] + "…"
			}
			return v
		}
	}
	data, err := json.MarshalIndent(it.Result, "", "  ")
	if err != nil || len(data) > 2000 {
		return ""
	}
	return string(data)
}

func (s *Server) pageRun(w http.ResponseWriter, r *http.Request, id identity) error {
	run, err := s.loadRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	p := runPage{Run: run, Live: run.Status == record.Running, As: r.URL.Query().Get("as")}
	if p.As == "" && !id.Anonymous() {
		p.As = id.Name
	}
	open := map[string]state.Question{}
	qs, err := s.openQuestions(r.Context(), run)
	if err != nil {
		return err
	}
	qs, ackOpen := splitAcks(qs)
	for _, q := range qs {
		open[q.Step] = q
	}
	if p.Exercise, err = s.exerciseOf(r.Context(), run); err != nil {
		return err
	}
	if p.Live {
		// Scores given while the run goes on join its record at its end.
		scores, err := state.LoadScores(r.Context(), s.store, run.ID)
		if err != nil {
			return err
		}
		state.MergeScores(run, scores)
	}
	for _, it := range run.Items {
		v := itemView{Item: it, Evidence: evidence(it), Mine: it.Assignee != "" && it.Assignee == p.As}
		if it.Assignee != "" && !slices.Contains(p.Assignees, it.Assignee) {
			p.Assignees = append(p.Assignees, it.Assignee)
		}
		if q, ok := open[it.Name]; ok && it.Kind == record.KindStep {
			v.Waiting = &q
			p.Waiting++
			v.Clock = clockOf(it, true, slices.Contains(ackOpen, it.Name), s.ackedBy(r.Context(), run.ID, it.Name), s.opts.Now())
		}
		p.Items = append(p.Items, v)
	}
	if s.opts.AllowedSigners != "" {
		if p.Upto = s.journalLength(r.Context(), run.ID); p.Upto > 0 {
			p.SignCommand = canonicalCommand(run.ID, p.Upto)
		}
	}
	for _, role := range reportRoles(run) {
		rv := roleView{Role: role}
		for i := range run.Signoffs {
			if run.Signoffs[i].Role == role {
				rv.Signed = &run.Signoffs[i]
			}
		}
		p.Roles = append(p.Roles, rv)
	}
	s.render(w, r, "run", id, p)
	return nil
}

// reportPage is the dot's Page of a rendered report.
type reportPage struct {
	Run     *record.Run
	Report  record.ReportOutput
	HTML    template.HTML
	Problem string
}

// markdown renders reports; raw HTML in them is left out and dangerous
// links dropped (goldmark's defaults).
var markdown = goldmark.New()

func (s *Server) pageReport(w http.ResponseWriter, r *http.Request, id identity) error {
	run, err := s.loadRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	var rep *record.ReportOutput
	for i := range run.Reports {
		if run.Reports[i].Name == name {
			rep = &run.Reports[i]
		}
	}
	if rep == nil {
		return errorf(http.StatusNotFound, "run %s has no report %q", run.ID, name)
	}
	p := reportPage{Run: run, Report: *rep}
	data, err := s.readRunReport(run, rep)
	if err != nil {
		p.Problem = fmt.Sprintf("The report cannot be shown here (%v). It was written to %s on %s.", err, rep.Path, run.Host)
	} else {
		var buf bytes.Buffer
		if err := markdown.Convert(data, &buf); err != nil {
			p.Problem = fmt.Sprintf("The report cannot be shown: %v", err)
		} else {
			// goldmark escapes the document's text and omits raw HTML.
			p.HTML = template.HTML(buf.String()) //nolint:gosec // sanitized by goldmark's safe defaults
		}
	}
	s.render(w, r, "report", id, p)
	return nil
}

func (s *Server) pageStop(w http.ResponseWriter, r *http.Request, id identity) error {
	v, err := s.stopView(r.Context())
	if err != nil {
		return err
	}
	// Newest first.
	for i, j := 0, len(v.Audit)-1; i < j; i, j = i+1, j-1 {
		v.Audit[i], v.Audit[j] = v.Audit[j], v.Audit[i]
	}
	s.render(w, r, "stop", id, v)
	return nil
}

func (s *Server) formAnswer(r *http.Request, id identity) (string, error) {
	runID, step := r.PathValue("id"), r.PathValue("step")
	b := answerBody{Status: r.PostForm.Get("status"), Note: r.PostForm.Get("note")}
	switch r.PostForm.Get("confirm") {
	case "yes":
		yes := true
		b.Confirm = &yes
	case "no":
		no := false
		b.Confirm = &no
	}
	if _, err := s.answer(r.Context(), id, runID, step, b); err != nil {
		return "", err
	}
	return "/runs/" + runID + "#step-" + step, nil
}

func (s *Server) formSignoff(r *http.Request, id identity) (string, error) {
	runID := r.PathValue("id")
	b := signoffBody{Statement: r.PostForm.Get("statement"), Signature: r.PostForm.Get("signature")}
	b.Upto, _ = strconv.ParseInt(r.PostForm.Get("upto"), 10, 64)
	if _, err := s.signOff(r.Context(), id, runID, r.PathValue("role"), b); err != nil {
		return "", err
	}
	return "/runs/" + runID + "#signoff", nil
}

func (s *Server) formStop(r *http.Request, id identity) (string, error) {
	on := r.PostForm.Get("on") == "true"
	if _, err := s.setStop(r.Context(), id, on, r.PostForm.Get("reason")); err != nil {
		return "", err
	}
	return "/stop", nil
}

// readRunReport reads the document a run's report block wrote, only when
// it is that document: written on this console's host, named by an
// absolute path, and still the document the run wrote (its SHA-256 is
// the record's) or, rendered again by runbook report, one that names the
// run's id. Anything else (another host's file, a path relative to
// wherever exec ran, a file written over since) is not shown.
func (s *Server) readRunReport(run *record.Run, rep *record.ReportOutput) ([]byte, error) {
	if run.Host != s.opts.Host {
		return nil, fmt.Errorf("it was written on another host")
	}
	if !filepath.IsAbs(rep.Path) {
		return nil, fmt.Errorf("its path is relative to the directory the run was in")
	}
	data, err := readReport(rep.Path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != rep.SHA256 && !bytes.Contains(data, []byte(run.ID)) {
		return nil, fmt.Errorf("the file there is not the document this run wrote")
	}
	return data, nil
}

// readReport reads a rendered report: a regular Markdown file, never a
// file a record could name to have the console show it (a key, a
// password file).
func readReport(path string) ([]byte, error) {
	if !strings.HasSuffix(path, ".md") {
		return nil, fmt.Errorf("%s is not a Markdown report", path)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return os.ReadFile(path)
}
