package phone

import (
	"context"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// TestCallSIPpHangsUpOnTheAnswer: SIPp calls the phone ten times, one call at a time, with a
// page the phone answers by itself, and sends its BYE in the same instant as its ACK. Each
// call is reported connected, then ended, and nothing of it after that; no call is left
// (sip/call_order.go: sipgo handles the ACK and the BYE on goroutines of their own).
func TestCallSIPpHangsUpOnTheAnswer(t *testing.T) {
	const calls = 10
	u, events, target := notifyPhone(t)
	uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uac-bye-on-answer.xml", Target: target, Service: "1001",
		Keys: map[string]string{"header": "Call-Info: <sip:pbx>;answer-after=0"}, Calls: calls, Args: []string{"-l", "1"}})
	state := map[string]string{} // the last state of each call
	// t.Context ends only after the test returns: a call the phone never ends must fail the
	// test with its log rather than hang the package until its timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for ended := 0; ended < calls; {
		var e Event
		select {
		case e = <-events:
		case <-ctx.Done():
			t.Fatalf("%d of %d calls ended: %v", ended, calls, state)
		}
		id, _ := e.Data["call"].(string)
		if e.Kind != EventCall || id == "" {
			continue
		}
		s, _ := e.Data["state"].(string)
		switch last := state[id]; {
		case last == "Ended":
			t.Fatalf("call %s: %s after it ended", id, s)
		case s == "Ended" && last != CallConnected:
			t.Fatalf("call %s ended after %q, want it connected first", id, last)
		case s == "Ended":
			ended++
		}
		state[id] = s
	}
	if res := uac.Wait(20 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if st := u.Status(); len(st.Calls) != 0 {
		t.Errorf("calls left: %+v", st.Calls)
	}
}
