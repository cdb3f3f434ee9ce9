package golden

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Pair is one golden file and its replay. Left or Right is "" when that
// side has no file.
type Pair struct {
	// Name identifies the pair in findings: the left file's path relative
	// to its directory (the right file's when the left is missing), or the
	// left path as given for a pair of two files.
	Name  string
	Left  string
	Right string
}

// PairRule says which file of a directory pairs with which: Left and Right
// are slash-separated paths relative to the directory, each holding {id}
// once; files whose {id} parts are equal form a pair. {id} may span
// directories.
type PairRule struct {
	Left, Right string
}

// The built-in pairing rules.
var (
	// IdentityRule pairs files with the same relative path.
	IdentityRule = PairRule{Left: "{id}", Right: "{id}"}
	// ReplaySuffixRule pairs NAME.json with NAME.replay.json.
	ReplaySuffixRule = PairRule{Left: "{id}.json", Right: "{id}.replay.json"}
	// SubdirRule pairs primary/PATH with replay/PATH.
	SubdirRule = PairRule{Left: "primary/{id}", Right: "replay/{id}"}
)

// String returns the rule in the form ParsePairRule reads.
func (r PairRule) String() string { return r.Left + ":" + r.Right }

// ParsePairRule reads "LEFT:RIGHT", such as "{id}.json:{id}.replay.json" or
// "primary/{id}.json:replay/{id}.json". Each side must hold {id} once.
func ParsePairRule(s string) (PairRule, error) {
	l, r, ok := strings.Cut(s, ":")
	if !ok {
		return PairRule{}, fmt.Errorf("pair rule %q: want LEFT:RIGHT, such as {id}.json:{id}.replay.json", s)
	}
	rule := PairRule{Left: strings.TrimSpace(l), Right: strings.TrimSpace(r)}
	for _, side := range []string{rule.Left, rule.Right} {
		if strings.Count(side, "{id}") != 1 {
			return PairRule{}, fmt.Errorf("pair rule %q: %q must contain {id} exactly once", s, side)
		}
	}
	return rule, nil
}

// matchSide returns the {id} part of rel under pattern, and the number of
// literal characters the pattern matched (its specificity).
func matchSide(pattern, rel string) (id string, literal int, ok bool) {
	pre, suf, _ := strings.Cut(pattern, "{id}")
	if len(rel) <= len(pre)+len(suf) || !strings.HasPrefix(rel, pre) || !strings.HasSuffix(rel, suf) {
		return "", 0, false
	}
	return rel[len(pre) : len(rel)-len(suf)], len(pre) + len(suf), true
}

// Pairs lists the pairs of leftDir and rightDir under rule, sorted by
// name. Files and directories whose names start with "." are skipped, and
// so are files that match neither side of the rule. When leftDir and
// rightDir are the same directory, a file matching both sides goes to the
// side whose pattern is more specific (a.replay.json is a replay under
// {id}.json:{id}.replay.json).
func Pairs(leftDir, rightDir string, rule PairRule) ([]Pair, error) {
	same := filepath.Clean(leftDir) == filepath.Clean(rightDir)
	if same && rule.Left == rule.Right {
		return nil, fmt.Errorf("pair %s with itself: the rule %s needs two different sides", leftDir, rule)
	}
	type entry struct{ left, right string }
	byID := map[string]*entry{}
	var ids []string
	get := func(id string) *entry {
		e := byID[id]
		if e == nil {
			e = &entry{}
			byID[id] = e
			ids = append(ids, id)
		}
		return e
	}
	walk := func(dir string, sides []string) error {
		return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("list golden files: %w", err)
			}
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return fmt.Errorf("list golden files: %w", err)
			}
			rel = filepath.ToSlash(rel)
			side, best, id := "", -1, ""
			for _, s := range sides {
				pat := rule.Left
				if s == "right" {
					pat = rule.Right
				}
				if i, lit, ok := matchSide(pat, rel); ok && lit > best {
					side, best, id = s, lit, i
				}
			}
			switch side {
			case "left":
				get(id).left = rel
			case "right":
				get(id).right = rel
			}
			return nil
		})
	}
	if same {
		if err := walk(leftDir, []string{"left", "right"}); err != nil {
			return nil, err
		}
	} else {
		if err := walk(leftDir, []string{"left"}); err != nil {
			return nil, err
		}
		if err := walk(rightDir, []string{"right"}); err != nil {
			return nil, err
		}
	}
	pairs := make([]Pair, 0, len(ids))
	for _, id := range ids {
		e := byID[id]
		p := Pair{Name: e.left}
		if e.left != "" {
			p.Left = filepath.Join(leftDir, filepath.FromSlash(e.left))
		} else {
			p.Name = e.right
		}
		if e.right != "" {
			p.Right = filepath.Join(rightDir, filepath.FromSlash(e.right))
		}
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b Pair) int { return strings.Compare(a.Name, b.Name) })
	return pairs, nil
}

// Resolve turns a comparison's inputs into pairs, the way `runbook golden
// diff` and the golden provider read them:
//
//   - two files: one pair, named after the left file;
//   - two directories: Pairs under rule, IdentityRule when rule is nil;
//   - one directory (right == ""): Pairs of the directory with itself
//     under rule; when rule is nil, SubdirRule if it holds primary/ and
//     replay/, else ReplaySuffixRule.
//
// A path that does not exist, or a file against a directory, is an error.
func Resolve(left, right string, rule *PairRule) ([]Pair, error) {
	li, err := os.Stat(left)
	if err != nil {
		return nil, fmt.Errorf("golden input: %w", err)
	}
	if right == "" {
		if !li.IsDir() {
			return nil, fmt.Errorf("golden input %q: a single input must be a directory of pairs", left)
		}
		r := DetectRule(left)
		if rule != nil {
			r = *rule
		}
		return Pairs(left, left, r)
	}
	ri, err := os.Stat(right)
	if err != nil {
		return nil, fmt.Errorf("golden input: %w", err)
	}
	switch {
	case li.IsDir() && ri.IsDir():
		r := IdentityRule
		if rule != nil {
			r = *rule
		}
		return Pairs(left, right, r)
	case !li.IsDir() && !ri.IsDir():
		return []Pair{{Name: left, Left: left, Right: right}}, nil
	}
	return nil, fmt.Errorf("golden inputs %q and %q: compare two files or two directories, not one of each", left, right)
}

// DetectRule returns the pairing rule for a single shadow-run directory:
// SubdirRule when it holds primary/ and replay/, else ReplaySuffixRule.
func DetectRule(dir string) PairRule {
	p, err1 := os.Stat(filepath.Join(dir, "primary"))
	r, err2 := os.Stat(filepath.Join(dir, "replay"))
	if err1 == nil && err2 == nil && p.IsDir() && r.IsDir() {
		return SubdirRule
	}
	return ReplaySuffixRule
}
