package record

import "testing"

func TestApprovalRefusal(t *testing.T) {
	it := &Item{Name: "deploy", ApprovalsNeeded: 2, Approvals: []Decision{{Confirmed: true, Operator: "bob"}}}
	tests := []struct {
		who  string
		want string
	}{
		{"carol", ""},
		{"", "an approval must say who gives it"},
		{"  ", "an approval must say who gives it"},
		{"olga", "olga started this run and cannot approve its step deploy: four eyes means 2 other people approve it"},
		{"Olga", "Olga started this run and cannot approve its step deploy: four eyes means 2 other people approve it"},
		{" olga ", "olga started this run and cannot approve its step deploy: four eyes means 2 other people approve it"},
		{"bob", "bob approved step deploy already: it needs approvals by 2 different people"},
		{"BOB", "BOB approved step deploy already: it needs approvals by 2 different people"},
		{"bob\t", "bob approved step deploy already: it needs approvals by 2 different people"},
	}
	for _, tt := range tests {
		if got := it.ApprovalRefusal("olga", tt.who); got != tt.want {
			t.Errorf("approval by %q: got %q, want %q", tt.who, got, tt.want)
		}
	}
}
