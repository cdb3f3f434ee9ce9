package record

import "testing"

func TestTallyInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		interrupted bool
		items       []Item
		want        string
	}{
		{"not interrupted", false, []Item{{Status: Passed}, {Status: Skipped, SkipReason: "when is false"}}, Passed},
		{"interrupted, nothing left unrun", true, []Item{{Status: Passed}}, Passed},
		{"interrupted before a step ran", true, []Item{{Status: Passed}, {Kind: KindStep, Status: Skipped, SkipReason: SkipInterrupted}}, Incomplete},
		{"interrupted with a warning", true, []Item{{Status: Warning}, {Kind: KindCheck, Status: Skipped, SkipReason: SkipInterrupted}}, Incomplete},
		{"interrupted cleanup only", true, []Item{{Status: Passed}, {Kind: KindCleanup, Status: Skipped, SkipReason: SkipInterrupted}}, Passed},
		{"interrupted and failed", true, []Item{{Status: Failed}, {Kind: KindStep, Status: Skipped, SkipReason: SkipInterrupted}}, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Run{Interrupted: tc.interrupted, Items: tc.items}
			r.Tally()
			if r.Status != tc.want {
				t.Errorf("status %q, want %q", r.Status, tc.want)
			}
		})
	}
}
