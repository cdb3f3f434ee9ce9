package report

import (
	"bytes"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/runbookhq/runbook/record"
)

// gfm renders Markdown as GitHub does, raw HTML (<br>) included.
var gfm = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithRendererOptions(gmhtml.WithUnsafe()),
)

func toHTML(t testing.TB, md string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := gfm.Convert([]byte(md), &buf); err != nil {
		t.Fatalf("goldmark: %v", err)
	}
	return buf.String()
}

var (
	tableRE = regexp.MustCompile(`(?s)<table>(.*?)</table>`)
	rowRE   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRE  = regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`)
	brRE    = regexp.MustCompile(`<br\s*/?>`)
	tagRE   = regexp.MustCompile(`<[^>]*>`)
)

// htmlTables returns the text of every cell of every table in rendered HTML:
// tables[table][row][cell], <br> read back as a newline.
func htmlTables(doc string) [][][]string {
	var tables [][][]string
	for _, tm := range tableRE.FindAllStringSubmatch(doc, -1) {
		var rows [][]string
		for _, rm := range rowRE.FindAllStringSubmatch(tm[1], -1) {
			var cells []string
			for _, cm := range cellRE.FindAllStringSubmatch(rm[1], -1) {
				cells = append(cells, cellText(cm[1]))
			}
			rows = append(rows, cells)
		}
		tables = append(tables, rows)
	}
	return tables
}

func cellText(inner string) string {
	s := brRE.ReplaceAllString(inner, "\n")
	s = tagRE.ReplaceAllString(s, "")
	return html.UnescapeString(s)
}

// plain is what EscapeCell promises to show: the text with CRLF as LF, tabs
// as spaces, other control characters dropped and the cell's outer blanks
// trimmed.
func plain(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.Trim(s, " ")
}

// trickyCells are texts that break naive Markdown tables.
var trickyCells = []string{
	"plain text",
	"a | b | c",
	"pipe at end |",
	"| pipe at start",
	`escaped \| pipe`,
	`back\slash\\`,
	"line one\nline two\r\nline three",
	"`code` and ``double`` and ```triple```",
	"`",
	"*bold* _em_ **strong** __strong__ ~~strike~~",
	"snake_case_name and __init__ and _leading and trailing_",
	"<b>html</b> <br> <!-- comment --> <https://example.com>",
	"&amp; &copy; &#123; & alone AT&T",
	"[link](http://example.com) ![img](x.png) [^1]",
	"# heading? #",
	"- list item",
	"+ plus",
	"1. ordered",
	"2) ordered",
	"4.2M used",
	"---",
	"===",
	"-5 degrees",
	"tab\tseparated\tvalues",
	"ctrl\x00\x07\x1b[31mred\x1b[0m",
	"unicode — ✅ ❌ ⚠️ 日本語",
	"trailing backslash \\",
	"   spaces around   ",
	"a\n\nb",
	"http://example.com/a_b?c=d|e",
}

func TestEscapeCellInTable(t *testing.T) {
	for _, s := range trickyCells {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			checkCellRoundTrip(t, s, EscapeCell(s), plain(s))
		})
	}
}

func TestCodeSpanInTable(t *testing.T) {
	for _, s := range trickyCells {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			want := codeText(s)
			checkCellRoundTrip(t, s, CodeSpan(s), want)
		})
	}
}

// checkCellRoundTrip puts an escaped cell into a two-column table and checks
// the table keeps its shape and the cell reads back as want.
func checkCellRoundTrip(t testing.TB, s, cell, want string) {
	t.Helper()
	md := "| key | value | end |\n|---|---|---|\n| k | " + cell + " | z |\n"
	tables := htmlTables(toHTML(t, md))
	if len(tables) != 1 {
		t.Fatalf("text %q as %q: got %d tables, want 1:\n%s", s, cell, len(tables), toHTML(t, md))
	}
	got := tables[0]
	wantRows := [][]string{{"key", "value", "end"}, {"k", want, "z"}}
	if diff := cmp.Diff(wantRows, got); diff != "" {
		t.Errorf("text %q as cell %q: table mismatch (-want +got):\n%s", s, cell, diff)
	}
}

// codeText is what CodeSpan promises to show: line breaks read " ⏎ ", tabs
// are spaces, other control characters are dropped and inner blanks stay.
func codeText(s string) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r != '\n' && unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if strings.Trim(s, " ") == "" || strings.Contains(s, `\|`) {
		return strings.Trim(s, " ") // shown by EscapeCell, trimmed by the table
	}
	return s
}

func FuzzEscapeCell(f *testing.F) {
	for _, s := range trickyCells {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		checkCellRoundTrip(t, s, EscapeCell(s), plain(s))
	})
}

func TestFence(t *testing.T) {
	tests := []struct {
		name, lang, text string
	}{
		{"plain", "text", "hello\nworld\n"},
		{"no final newline", "", "hello"},
		{"triple backticks inside", "markdown", "before\n```\ninside\n```\nafter"},
		{"long backtick run", "text", "x ````` y"},
		{"empty", "json", ""},
		{"hostile info string", "js` onload\n", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := "before\n\n" + Fence(tc.lang, tc.text) + "\n\nafter\n"
			out := toHTML(t, doc)
			m := regexp.MustCompile(`(?s)<pre><code[^>]*>(.*?)</code></pre>`).FindAllStringSubmatch(out, -1)
			if len(m) != 1 {
				t.Fatalf("got %d code blocks, want 1:\n%s", len(m), out)
			}
			want := strings.TrimSuffix(tc.text, "\n")
			if want != "" {
				want += "\n"
			}
			if got := html.UnescapeString(m[0][1]); got != want {
				t.Errorf("code block text: got %q, want %q", got, want)
			}
			if !strings.HasSuffix(out, "<p>after</p>\n") {
				t.Errorf("text after the block was swallowed:\n%s", out)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"excerpt cut", Excerpt(2, "a\nb\nc\n"), "a\nb\n…"},
		{"excerpt whole", Excerpt(3, "a\nb\nc\n\n"), "a\nb\nc"},
		{"excerpt zero keeps one", Excerpt(0, "a\nb"), "a\n…"},
		{"truncate", Truncate(5, "abcdefgh"), "abcd…"},
		{"truncate runes", Truncate(3, "日本語です"), "日本…"},
		{"truncate short", Truncate(10, "abc"), "abc"},
		{"first line", FirstLine("\n  first  \nsecond"), "first …"},
		{"first line only", FirstLine("only\n\n"), "only"},
		{"duration ms", Duration(12), "12ms"},
		{"duration s", Duration(48211), "48.211s"},
		{"duration whole s", Duration(3000), "3s"},
		{"duration m", Duration(152341), "2m32s"},
		{"duration h", Duration(86_400_000 + 62_000), "24h01m02s"},
		{"text float", Text(float64(25920)), "25920"},
		{"text big float", Text(float64(1e21)), "1000000000000000000000"},
		{"text fraction", Text(1.5), "1.5"},
		{"text nil", Text(nil), ""},
		{"status icon", StatusIcon("warning"), "⚠️"},
		{"status icon unknown", StatusIcon("bogus"), "❔"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// TestBuiltinTemplatesAreValidGFM renders every golden case with goldmark's
// GFM extension and checks each table keeps one row per item and that
// cells holding pipes, newlines and backticks read back intact.
func TestBuiltinTemplatesAreValidGFM(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			run := readRun(t, tc.run)
			var buf bytes.Buffer
			if err := Render(&buf, tc.spec, run, testOptions()); err != nil {
				t.Fatal(err)
			}
			tables := htmlTables(toHTML(t, buf.String()))
			if len(tables) == 0 {
				t.Fatal("got no <table>, want at least one")
			}
			var sawItemTable bool
			for _, rows := range tables {
				for r, cells := range rows {
					if len(cells) != len(rows[0]) {
						t.Errorf("table %q row %d: got %d cells, want %d", rows[0], r, len(cells), len(rows[0]))
					}
				}
				switch {
				case rows[0][0] == "#" && slices.Contains(rows[0], "Cleanup"):
					checkItemTable(t, rows, Cleanups(run.Items))
				case rows[0][0] == "#" && slices.Contains(rows[0], "Time to acknowledge"):
					if c := Clocks(run.Items); c == nil || len(rows) != len(c.Steps)+1 {
						t.Errorf("clocks table: got %d rows, want one per owned step", len(rows))
					}
				case rows[0][0] == "#" && slices.Contains(rows[0], "Score"):
					checkItemTable(t, rows, Scored(run.Items))
				case rows[0][0] == "#" && slices.Contains(rows[0], "Inject"):
					if len(rows) != len(run.Exercise.Injects)+1 {
						t.Errorf("inject table: got %d rows, want %d", len(rows), len(run.Exercise.Injects)+1)
					}
				case rows[0][0] == "#" && slices.Contains(rows[0], "Started"):
					sawItemTable = true
					checkItemTable(t, rows, run.Items)
				case rows[0][0] == "#":
					sawItemTable = true
					checkItemTable(t, rows, Procedure(run.Items))
				case rows[0][0] == "Passed":
					if len(rows) != 2 {
						t.Errorf("totals table: got %d rows, want 2", len(rows))
					}
				case rows[0][0] == "Metric":
					metrics, _ := tc.spec.Data["metrics"].(map[string]any)
					if len(rows) != len(metrics)+1 {
						t.Errorf("metrics table: got %d rows, want %d", len(rows), len(metrics)+1)
					}
					for _, cells := range rows[1:] {
						if got, want := cells[1], Text(metrics[cells[0]]); got != want {
							t.Errorf("metric %q: got %q, want %q", cells[0], got, want)
						}
					}
				}
			}
			if !sawItemTable {
				t.Error("got no table of items, want one")
			}
		})
	}
}

// checkItemTable checks an item table (checklist, timings or results): one
// row per item, in order, with the title and, where the table has them, the
// command and evidence cells read back exactly.
func checkItemTable(t *testing.T, rows [][]string, items []record.Item) {
	t.Helper()
	if len(rows) != len(items)+1 {
		t.Fatalf("item table %q: got %d rows, want %d", rows[0], len(rows), len(items)+1)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for i, it := range items {
		cells := rows[i+1]
		if got, want := cells[0], strconv.Itoa(i+1); got != want {
			t.Errorf("row %d #: got %q, want %q", i+1, got, want)
		}
		if c, ok := col["Step"]; ok {
			want := it.Title
			if want == "" {
				want = it.Name
			}
			if cells[c] != want {
				t.Errorf("row %d step: got %q, want %q", i+1, cells[c], want)
			}
		}
		if c, ok := col["Cleanup"]; ok {
			want := it.Title
			if want == "" {
				want = it.Name
			}
			if _, hasTitle := col["Title"]; hasTitle {
				want = it.Kind + "." + it.Name
			}
			if cells[c] != want {
				t.Errorf("row %d cleanup: got %q, want %q", i+1, cells[c], want)
			}
		}
		if c, ok := col["Evidence"]; ok {
			ev := Evidence(it)
			if _, cleanup := col["Cleanup"]; cleanup && ev == "" {
				ev = Detail(it)
			}
			if len(it.Checks) > 0 {
				// A step made of checks: each check's line, in the cell.
				for _, sub := range it.Checks {
					if !strings.Contains(cells[c], "check."+sub.Name) {
						t.Errorf("row %d evidence: got %q, want a line for check.%s", i+1, cells[c], sub.Name)
					}
				}
			} else if got, want := cells[c], withNote(plain(Truncate(200, Excerpt(2, ev))), it); got != want {
				t.Errorf("row %d evidence: got %q, want %q", i+1, got, want)
			}
		}
		if c, ok := col["Check or command"]; ok && it.Action != "" {
			if got, want := cells[c], Truncate(160, it.Action); !strings.HasSuffix(got, want) {
				t.Errorf("row %d command: got %q, want it to end with %q", i+1, got, want)
			}
		}
		if c, ok := col["Detail"]; ok {
			if got, want := cells[c], withNote(plain(Truncate(160, Detail(it))), it); got != want {
				t.Errorf("row %d detail: got %q, want %q", i+1, got, want)
			}
		}
	}
}

// withNote is a cell's text followed by the item's truncation mark, when a
// provider cut what it captured.
func withNote(cell string, it record.Item) string {
	note := TruncationNote(it)
	switch {
	case note == "":
		return cell
	case cell == "":
		return "✂️ " + note
	}
	return cell + " ✂️ " + note
}

func FuzzCodeSpan(f *testing.F) {
	for _, s := range trickyCells {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		checkCellRoundTrip(t, s, CodeSpan(s), codeText(s))
	})
}
