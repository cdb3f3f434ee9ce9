package record

import (
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"
)

var runIDPattern = regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{16}$`)

// TestRunIDsNeverCollide: runs started in the same microsecond, from many
// goroutines at once, still get distinct ids.
func TestRunIDsNeverCollide(t *testing.T) {
	const workers, each = 16, 20000
	at := time.Date(2026, 11, 30, 23, 20, 34, 123456000, time.UTC)
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ids[w] = append(ids[w], NewRunID(at))
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool, workers*each)
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("id %s handed out twice", id)
			}
			seen[id] = true
			if !runIDPattern.MatchString(id) {
				t.Fatalf("id %q is not of the form 20261130T232034.123456Z-<16 hex>", id)
			}
		}
	}
}

// TestRunIDsSortByStart: ids of runs started one after the other within
// one second sort in that order, and carry their start to the microsecond.
func TestRunIDsSortByStart(t *testing.T) {
	base := time.Date(2026, 11, 30, 23, 20, 34, 0, time.UTC)
	var ids []string
	for i := range 1000 {
		ids = append(ids, NewRunID(base.Add(time.Duration(i)*time.Microsecond).In(time.FixedZone("CET", 3600))))
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("ids of runs started in order do not sort in that order")
	}
	for i, id := range ids {
		got, precise, ok := RunIDTime(id)
		if want := base.Add(time.Duration(i) * time.Microsecond); !ok || !precise || !got.Equal(want) {
			t.Fatalf("RunIDTime(%s): got %v, %v, %v; want %v, precise", id, got, precise, ok, want)
		}
	}
	// Sub-microsecond differences are dropped, never rounded up.
	if got, _, _ := RunIDTime(NewRunID(base.Add(999 * time.Nanosecond))); !got.Equal(base) {
		t.Errorf("RunIDTime of a run 999ns in: got %v, want %v", got, base)
	}
}

func TestRunIDTimeLegacy(t *testing.T) {
	for _, tc := range []struct {
		id      string
		want    time.Time
		precise bool
		ok      bool
	}{
		{"20251202T131219Z-3f9a", time.Date(2025, 12, 2, 13, 12, 19, 0, time.UTC), false, true},
		{"20261130T232034.123456Z-9f86d081884c7d65", time.Date(2026, 11, 30, 23, 20, 34, 123456000, time.UTC), true, true},
		{"copy", time.Time{}, false, false},
		{"2025-12-02", time.Time{}, false, false},
		{"20251202T131219.5Z-aa", time.Time{}, false, false},
	} {
		got, precise, ok := RunIDTime(tc.id)
		if !got.Equal(tc.want) || precise != tc.precise || ok != tc.ok {
			t.Errorf("RunIDTime(%q): got %v, %v, %v; want %v, %v, %v", tc.id, got, precise, ok, tc.want, tc.precise, tc.ok)
		}
	}
}
