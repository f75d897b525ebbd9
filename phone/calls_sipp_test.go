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

// TestCallSIPpPRACK: with SIP_100REL_Enable_1_ Yes the phone offers 100rel and PRACKs a SIPp
// UAS's reliable 180 before its 200 (the scenario checks Supported, Allow and RAck); and
// SIPp calling the phone with 100rel supported or required gets a reliable 180, PRACKs it,
// and the phone's 200 follows the PRACK's (RFC 3262, sip/prack.go).
func TestCallSIPpPRACK(t *testing.T) {
	t.Run("phone calls", func(t *testing.T) {
		uas := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uas-100rel.xml"})
		u, events, _ := notifyPhone(t, "SIP_100REL_Enable_1_", "Yes")
		c, err := mustPhone(t, u).Dial(t.Context(), 1, "sip:peer@"+uas.Addr, true)
		if err != nil {
			t.Fatal(err)
		}
		waitCall(t, events, c.ID, CallProceeding)
		waitCall(t, events, c.ID, CallConnected)
		waitCall(t, events, c.ID, "Ended")
		if res := uas.Wait(10 * time.Second); res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
	})
	for _, header := range []string{"Supported: 100rel", "Require: 100rel"} {
		t.Run("SIPp calls, "+header, func(t *testing.T) {
			u, events, target := notifyPhone(t, "SIP_100REL_Enable_1_", "Yes")
			uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uac-100rel.xml", Target: target, Service: "1001",
				Keys: map[string]string{"rel100": header}})
			id := waitCall(t, events, "", CallRinging).Data["call"].(string)
			// Answered at once: the 200 waits for SIPp's PRACK of the 180.
			if _, err := mustPhone(t, u).Answer(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			waitCall(t, events, id, CallConnected)
			waitCall(t, events, id, "Ended")
			if res := uac.Wait(10 * time.Second); res.Err != nil {
				t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
			}
		})
	}
}

// TestCallSIPpAuthInviteAndInfoDTMF: with Auth_INVITE_1_ Yes the phone challenges SIPp's
// INVITE and rings only on the retry that answers it; in the call SIPp's INFO digit is
// reported (method info), and with DTMF_Tx_Method_1_ INFO the phone's digit goes out as
// INFO (the scenario checks Signal=7).
func TestCallSIPpAuthInviteAndInfoDTMF(t *testing.T) {
	u, events, target := notifyPhone(t, "Auth_INVITE_1_", "Yes", "DTMF_Tx_Method_1_", "INFO")
	uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "uac-auth-info.xml", Target: target, Service: "1001",
		Args: []string{"-au", "1001", "-ap", "secret1001"}})
	p := mustPhone(t, u)
	id := waitCall(t, events, "", CallRinging).Data["call"].(string)
	if _, err := p.Answer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	// SIPp's INFO follows its ACK at once; the digit is reported after the call is connected,
	// never before (sip/call_order.go).
	for connected, digit := false, false; !connected || !digit; {
		select {
		case ev := <-events:
			switch {
			case ev.Kind == EventCall && ev.Data["call"] == id && ev.Data["state"] == CallConnected:
				connected = true
			case ev.Kind == EventDTMF:
				digit = true
				if !connected {
					t.Fatalf("dtmf event %v before the call was connected", ev.Data)
				}
				if ev.Data["digit"] != "5" || ev.Data["method"] != "info" || ev.Data["call"] != id {
					t.Errorf("dtmf event %v, want 5 by info", ev.Data)
				}
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("connected %v, digit reported %v", connected, digit)
		}
	}
	if _, err := p.SendDTMF(t.Context(), id, "7"); err != nil {
		t.Fatal(err)
	}
	waitCall(t, events, id, "Ended")
	if res := uac.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
}
