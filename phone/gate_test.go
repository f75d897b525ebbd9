package phone

import "testing"

// TestOutcomeString covers every Outcome the gate answers with.
func TestOutcomeString(t *testing.T) {
	tests := []struct {
		o    Outcome
		want string
	}{
		{OutcomeStarted, "started"}, {OutcomeDeferred, "deferred"}, {OutcomeQueued, "queued"}, {Outcome(0), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("Outcome(%d).String() = %q, want %q", tt.o, got, tt.want)
		}
	}
}
