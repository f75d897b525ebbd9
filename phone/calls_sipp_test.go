package phone

import (
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// TestCallSIPpAnswersAndHangsUp: the phone calls a SIPp UAS directly (a SIP URI), which
// answers and hangs up; the phone takes the BYE.
func TestCallSIPpAnswersAndHangsUp(t *testing.T) {
	uas := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uas-answer-bye.xml"})
	u, events, _ := notifyPhone(t)
	c, err := mustPhone(t, u).Dial(t.Context(), 1, "sip:peer@"+uas.Addr, true)
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, c.ID, CallConnected)
	ev := waitCall(t, events, c.ID, "Ended")
	if ev.Data["reason"] != "remote hang-up" {
		t.Errorf("ended %v", ev.Data)
	}
	if res := uas.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
}

// TestCallSIPpCallsPhone: SIPp calls the phone; once the test answers (and once the phone
// answers a page by itself: Call-Info answer-after=0 with Auto_Answer_Page Yes), SIPp hangs
// up.
func TestCallSIPpCallsPhone(t *testing.T) {
	tests := []struct {
		name, header string
		auto         bool
	}{
		{"answered by the API", "Subject: test", false},
		{"page answered by itself", "Call-Info: <sip:pbx>;answer-after=0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, events, target := notifyPhone(t)
			uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uac-call.xml", Target: target, Service: "1001",
				Keys: map[string]string{"header": tt.header}})
			ring := waitCall(t, events, "", CallRinging)
			id := ring.Data["call"].(string)
			if !tt.auto {
				if _, err := mustPhone(t, u).Answer(t.Context(), id); err != nil {
					t.Fatal(err)
				}
			}
			waitCall(t, events, id, CallConnected)
			st := u.Status()
			if len(st.Calls) != 1 || st.Calls[0].Codec != "G711u" || st.Info.Lines[0][0].PeerPhone != "sipp" {
				t.Errorf("calls %+v line %+v", st.Calls, st.Info.Lines[0][0])
			}
			waitCall(t, events, id, "Ended")
			if res := uac.Wait(10 * time.Second); res.Err != nil {
				t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
			}
		})
	}
}
