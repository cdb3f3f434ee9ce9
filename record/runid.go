package record

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// runIDLayout is the time part of a run id: UTC to the microsecond, fixed
// width, so ids sort as strings in the order their runs started.
const runIDLayout = "20060102T150405.000000Z"

// legacyRunIDLayout is the time part of the ids of earlier versions, to
// the second (20251202T131219Z-3f9a).
const legacyRunIDLayout = "20060102T150405Z"

// NewRunID returns the id of a run started at t: its UTC start to the
// microsecond, then 64 random bits, e.g. 20261130T232034.123456Z-9f86d081884c7d65.
// Ids of runs started one after the other sort (as strings) in that order,
// at any concurrency no two runs share one (a collision needs two runs in
// the same microsecond drawing the same 64 bits), and every character is
// safe in a file name.
func NewRunID(t time.Time) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported systems; never hand out
		// a predictable id if it does.
		panic("runbook: no randomness for a run id: " + err.Error())
	}
	return t.UTC().Format(runIDLayout) + "-" + hex.EncodeToString(b[:])
}

// RunIDTime returns the start time a run id carries. precise is true for
// ids of this version (microseconds) and false for the ids of earlier
// versions (seconds); ok is false for an id in neither form.
func RunIDTime(id string) (t time.Time, precise, ok bool) {
	prefix, _, found := strings.Cut(id, "-")
	if !found {
		return time.Time{}, false, false
	}
	if t, err := time.Parse(runIDLayout, prefix); err == nil && len(prefix) == len(runIDLayout) {
		return t, true, true
	}
	if t, err := time.Parse(legacyRunIDLayout, prefix); err == nil && len(prefix) == len(legacyRunIDLayout) {
		return t, false, true
	}
	return time.Time{}, false, false
}
