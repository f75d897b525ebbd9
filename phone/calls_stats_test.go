package phone

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// TestStatsInBye: with Stats_In_BYE Yes the phone's BYE, and its 200 to the far end's BYE,
// carry P-RTP-Stat with the call's figures (SIPp's scenario checks the header's form and that
// the packets sent are counted, and fails the call otherwise).
func TestStatsInBye(t *testing.T) {
	tests := []struct {
		name, scenario string
		phoneHangsUp   bool
	}{
		{"in the phone's BYE", "testdata/sipp-stats-bye.xml", true},
		{"in the 200 to the far end's BYE", "testdata/sipp-stats-remote-bye.xml", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf, err := filepath.Abs(tt.scenario) // SIPp runs in a directory of its own
			if err != nil {
				t.Fatal(err)
			}
			uas := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: sf})
			u, events, _ := notifyPhone(t, "Stats_In_BYE", "Yes")
			p := mustPhone(t, u)
			c, err := p.Dial(t.Context(), 1, "sip:peer@"+uas.Addr, true)
			if err != nil {
				t.Fatal(err)
			}
			waitCall(t, events, c.ID, CallConnected)
			if tt.phoneHangsUp {
				waitFor(t, 10*time.Second, "packets sent", func() bool {
					n, _ := strconv.Atoi(u.Status().Info.Lines[0][0].PacketsSent)
					return n > 0
				})
				if _, err := p.Hangup(t.Context(), c.ID); err != nil {
					t.Fatal(err)
				}
			}
			waitCall(t, events, c.ID, "Ended")
			if res := uas.Wait(10 * time.Second); res.Err != nil {
				t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
			}
		})
	}
}
