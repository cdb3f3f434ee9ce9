package checks

import (
	"sync"
	"sync/atomic"
)

// LazyMap holds what a provider makes on first use per key and keeps for
// the length of a run: a connection pool per DSN, a client per URL.
// Lookups take no lock: the map is replaced, never changed, when a value
// is added. The zero LazyMap is empty and ready.
type LazyMap[K comparable, V any] struct {
	mu sync.Mutex // serializes making values
	m  atomic.Pointer[map[K]V]
}

// Get returns the value for key, calling create to make it when there is
// none yet; create runs at most once per key at a time. An error from
// create is returned and nothing is kept.
func (l *LazyMap[K, V]) Get(key K, create func() (V, error)) (V, error) {
	if m := l.m.Load(); m != nil {
		if v, ok := (*m)[key]; ok {
			return v, nil
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := map[K]V{}
	if m := l.m.Load(); m != nil {
		old = *m
	}
	if v, ok := old[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return v, err
	}
	next := make(map[K]V, len(old)+1)
	for k, e := range old {
		next[k] = e
	}
	next[key] = v
	l.m.Store(&next)
	return v, nil
}

// Take empties the map and returns what it held, for Close.
func (l *LazyMap[K, V]) Take() map[K]V {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.m.Swap(nil)
	if m == nil {
		return nil
	}
	return *m
}
