package checks

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLazyMap(t *testing.T) {
	var m LazyMap[string, int]
	var made atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Get("a", func() (int, error) { made.Add(1); return 7, nil })
			if err != nil || v != 7 {
				t.Errorf("got %d, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := made.Load(); n != 1 {
		t.Errorf("created %d times, want once", n)
	}
	if _, err := m.Get("b", func() (int, error) { return 0, errors.New("boom") }); err == nil {
		t.Errorf("the error was not returned")
	}
	if v, _ := m.Get("b", func() (int, error) { return 9, nil }); v != 9 {
		t.Errorf("a failed create was kept: got %d", v)
	}
	if got := m.Take(); len(got) != 2 || got["a"] != 7 || got["b"] != 9 {
		t.Errorf("Take: %v", got)
	}
	if got := m.Take(); got != nil {
		t.Errorf("second Take: %v", got)
	}
}
