package phone

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// waitCall reads events until call id (any call when "") reaches state; it returns the
// event.
func waitCall(t *testing.T, events <-chan Event, id, state string) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed waiting for call %s %s", id, state)
			}
			if e.Kind == EventCall && (id == "" || e.Data["call"] == id) && e.Data["state"] == state {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("call %q never %s", id, state)
		}
	}
}

// waitEnded reads events until every call of ids has ended, in any order.
func waitEnded(t *testing.T, events <-chan Event, ids ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, id := range ids {
		left[id] = true
	}
	for len(left) > 0 {
		e := waitEvent(t, events, EventCall)
		if id, _ := e.Data["call"].(string); e.Data["state"] == "Ended" {
			delete(left, id)
		}
	}
}

// waitRemoteHold reads events until call id's Remote_Hold becomes hold.
func waitRemoteHold(t *testing.T, events <-chan Event, id string, hold bool) {
	t.Helper()
	for {
		e := waitEvent(t, events, EventCall)
		if e.Data["call"] == id && e.Data["remote_hold"] == hold {
			return
		}
	}
}

// twoPhones starts two phones registered to k as 1001 and 1002.
func twoPhones(t *testing.T, k *siptest.Kamailio, setsB ...string) (a, b *Unit, ea, eb <-chan Event) {
	t.Helper()
	a, ea = startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k)}, nil)
	sets := append([]string{"User_ID_1_", "1002", "Password_1_", "secret1002", "Display_Name_1_", "Bob"}, setsB...)
	b, eb = startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, sets...)}, nil)
	waitRegistration(t, ea, 1, "Registered")
	waitRegistration(t, eb, 1, "Registered")
	return a, b, ea, eb
}

// callAnswered dials to from pa's extension 1 and answers, on pb, the call that rings there;
// it returns once both ends are connected, with the caller's call and the callee's call id.
func callAnswered(t *testing.T, pa *Phone, ea <-chan Event, pb *Phone, eb <-chan Event, to string) (DialResult, string) {
	t.Helper()
	ctx := t.Context()
	call, err := pa.Dial(ctx, 1, to, false)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	bid := waitCall(t, eb, "", CallRinging).Data["call"].(string)
	if _, err := pb.Answer(ctx, bid); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, call.ID, CallConnected)
	waitCall(t, eb, bid, CallConnected)
	return call, bid
}

func TestCallBetweenPhones(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	pa, pb := mustPhone(t, ua), mustPhone(t, ub)
	ctx := t.Context()

	call, err := pa.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if call.State != CallCalling || call.Direction != "outbound" {
		t.Errorf("dialled call = %+v", call)
	}
	if ua.Status().Idle {
		t.Error("a phone placing a call is idle")
	}
	ring := waitCall(t, eb, "", CallRinging)
	bid := ring.Data["call"].(string)
	waitCall(t, ea, call.ID, CallProceeding)
	if st := ub.Status(); st.Idle || st.Info.Lines[0][0].State != "Ringing" || st.Info.Lines[0][0].Type != "Inbound" {
		t.Errorf("callee: idle %v, Line 1 Call 1 = %+v", st.Idle, st.Info.Lines[0][0])
	}
	if _, err := pb.Answer(ctx, bid); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	waitCall(t, ea, call.ID, CallConnected)
	waitCall(t, eb, bid, CallConnected)
	sa := ua.Status()
	if len(sa.Calls) != 1 || sa.Calls[0].Codec != "G711u" || sa.Info.Lines[0][0].State != "Connected" ||
		sa.Info.Lines[0][0].PeerPhone != "1002" {
		t.Errorf("caller status: calls %+v, line %+v", sa.Calls, sa.Info.Lines[0][0])
	}

	// Hold and resume by re-INVITE; the far end shows Remote_Hold.
	if _, err := pa.Hold(ctx, call.ID); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	waitCall(t, ea, call.ID, CallHeld)
	waitRemoteHold(t, eb, bid, true)
	if st := ub.Status(); !st.Calls[0].RemoteHold || st.Info.Lines[0][0].RemoteHold != "Yes" {
		t.Errorf("callee does not show Remote_Hold: %+v", st.Calls[0])
	}
	if _, err := pa.Resume(ctx, call.ID); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	waitCall(t, ea, call.ID, CallConnected)
	waitRemoteHold(t, eb, bid, false)
	if _, err := pa.Answer(ctx, call.ID); err == nil {
		t.Error("answering a connected call worked")
	}

	// The callee hangs up: BYE through the proxy ends both.
	if _, err := pb.Hangup(ctx, bid); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	waitCall(t, eb, bid, "Ended")
	ev := waitCall(t, ea, call.ID, "Ended")
	if ev.Data["reason"] != "remote hang-up" {
		t.Errorf("caller's end = %v", ev.Data)
	}
	if !ua.Status().Idle || !ub.Status().Idle {
		t.Error("phones not idle after the call")
	}
}

func TestCallRefusals(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	tests := []struct {
		name string
		sets []string
		code int
	}{
		{"DND", []string{"DND_Setting", "Yes"}, 480},
		{"forward all", []string{"Cfwd_All_Dest", "1003"}, 404}, // 302 to 1003, not registered: 404
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ua, _, ea, _ := twoPhones(t, k, tt.sets...)
			c, err := mustPhone(t, ua).Dial(t.Context(), 1, "1002", false)
			if err != nil {
				t.Fatal(err)
			}
			ev := waitCall(t, ea, c.ID, "Ended")
			if ev.Data["code"] != tt.code {
				t.Errorf("ended %v, want code %d", ev.Data, tt.code)
			}
		})
	}
}

// TestRebootWaitsForBye: /admin/reboot (RequestReboot) and NOTIFY reboot_now during a call
// wait until the call ends.
func TestRebootWaitsForBye(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	pa, pb := mustPhone(t, ua), mustPhone(t, ub)
	c, err := pa.Dial(t.Context(), 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	bid := waitCall(t, eb, "", CallRinging).Data["call"].(string)
	if _, err := pb.Answer(t.Context(), bid); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, c.ID, CallConnected)
	out, err := pa.RequestReboot(t.Context(), "test")
	if err != nil || out != OutcomeDeferred {
		t.Fatalf("RequestReboot = %v, %v; want deferred", out, err)
	}
	if ev := waitEvent(t, ea, EventDeferred); ev.Data["reason"] != "line 1 call 1 connected" {
		t.Errorf("deferred because %v", ev.Data["reason"])
	}
	// The callee gets a NOTIFY reboot_now (answering the challenge): deferred too.
	res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify.xml", Target: ub.Status().Extensions[0].SIPAddr,
		Service: "1002", Keys: map[string]string{"event": "reboot_now"}, AuthUser: "1002", AuthPass: "secret1002"})
	if res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if ev := waitEvent(t, eb, EventDeferred); ev.Data["op"] != "reboot" || ev.Data["reason"] != "line 1 call 1 connected" {
		t.Errorf("callee deferred %v", ev.Data)
	}
	if _, err := pb.Hangup(t.Context(), bid); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, c.ID, "Ended")
	waitEvent(t, ea, EventShutdown)
	waitEvent(t, eb, EventShutdown) // both reboot once the BYE ended the call
}

// TestBlindTransfer: A calls B; B transfers A to C by REFER; A calls C, C answers, A reports
// it to B, B leaves; A and C talk (SPA-BEHAVIOUR §13.6).
func TestBlindTransfer(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	uc, ec := carol(t, k)
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()
	ab, ba := callAnswered(t, pa, ea, pb, eb, "1002")

	if _, err := pb.Transfer(ctx, ba, "1003"); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	ring := waitCall(t, ec, "", CallRinging)
	ca := ring.Data["call"].(string)
	if _, err := pc.Answer(ctx, ca); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ec, ca, CallConnected)
	waitCall(t, eb, ba, "Ended") // the transferor left
	waitCall(t, ea, ab.ID, "Ended")
	st := ua.Status()
	if len(st.Calls) != 1 || st.Calls[0].State != CallConnected || st.Calls[0].PeerPhone != "1003" {
		t.Errorf("transferee's calls after the transfer: %+v", st.Calls)
	}
	if !ub.Status().Idle {
		t.Error("the transferor is not idle")
	}
}

// TestAttendedTransfer: A calls B; B holds A, calls C (consultation), then transfers A to C
// with Replaces: A (transferee) calls C with Replaces of the B–C dialog, C (target) answers
// it at once in place of B's call and hangs that one up, A reports the new call to B, and B
// (transferor) leaves A; A and C talk (SPA-BEHAVIOUR §13.6, RFC 5589 §7).
func TestAttendedTransfer(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	uc, ec := carol(t, k)
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()
	ab, ba := callAnswered(t, pa, ea, pb, eb, "1002")
	if _, err := pb.Hold(ctx, ba); err != nil {
		t.Fatal(err)
	}
	waitCall(t, eb, ba, CallHeld)
	bc, cb := callAnswered(t, pb, eb, pc, ec, "1003")

	if _, err := pb.TransferReplaces(ctx, ba, "nosuch"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("TransferReplaces of an unknown call: %v", err)
	}
	if _, err := pb.TransferReplaces(ctx, ba, bc.ID); err != nil {
		t.Fatalf("TransferReplaces: %v", err)
	}
	// The target: the old call ends, the new one replaces it, answered without ringing.
	waitCall(t, ec, cb, "Ended")
	if ca := waitCall(t, ec, "", CallConnected); ca.Data["call"] == cb {
		t.Fatalf("C's old call reconnected: %v", ca.Data)
	}
	// C hung up the replaced call; B left A once A reported the new call up.
	waitEnded(t, eb, bc.ID, ba)
	waitCall(t, ea, ab.ID, "Ended")
	if st := ua.Status(); len(st.Calls) != 1 || st.Calls[0].State != CallConnected || st.Calls[0].PeerPhone != "1003" {
		t.Errorf("transferee's calls after the transfer: %+v", st.Calls)
	}
	if st := uc.Status(); len(st.Calls) != 1 || st.Calls[0].State != CallConnected || st.Calls[0].Appearance != 1 {
		t.Errorf("target's calls after the transfer: %+v", st.Calls)
	}
	if !ub.Status().Idle {
		t.Error("the transferor is not idle")
	}
}

// TestForwardBusyAndNoAnswer: through Kamailio, B forwards A's call to C with 302 and
// Diversion (SPA-BEHAVIOUR §13.7), A following it: after ringing Cfwd_No_Ans_Delay
// unanswered (B's clock), and at once when B is busy (in a call, call waiting off).
func TestForwardBusyAndNoAnswer(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ea := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k)}, nil)
	clockB := NewManualClock(voiceStart)
	ub, eb := startUnit(t, Options{IP: "127.0.0.1", Clock: clockB, Defaults: sipDefaults(t, k,
		"User_ID_1_", "1002", "Password_1_", "secret1002", "Display_Name_1_", "Bob",
		"Cfwd_Busy_Dest", "1003", "Cfwd_No_Ans_Dest", "1003", "Cfwd_No_Ans_Delay", "20", "CW_Setting", "No")}, nil)
	uc, ec := carol(t, k)
	for _, e := range []<-chan Event{ea, eb} {
		waitRegistration(t, e, 1, "Registered")
	}
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()

	// No answer: B rings, 20 s pass on its clock, the call goes on to C.
	ab, err := pa.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	ba := waitCall(t, eb, "", CallRinging).Data["call"].(string)
	clockB.Advance(20 * time.Second)
	if ev := waitCall(t, eb, ba, "Ended"); ev.Data["code"] != 302 {
		t.Errorf("B's call ended %v, want 302", ev.Data)
	}
	ca := waitCall(t, ec, "", CallRinging).Data["call"].(string)
	if _, err := pc.Answer(ctx, ca); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, ab.ID, CallConnected)
	if _, err := pa.Hangup(ctx, ab.ID); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ec, ca, "Ended")
	waitCall(t, ea, ab.ID, "Ended")

	// Busy: C calls B, B answers; A's call to B goes to C at once.
	cb, err := pc.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	bc := waitCall(t, eb, "", CallRinging).Data["call"].(string)
	if _, err := pb.Answer(ctx, bc); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ec, cb.ID, CallConnected)
	ab2, err := pa.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	ca2 := waitCall(t, ec, "", CallRinging) // C's second appearance rings (call waiting on at C)
	if ca2.Data["appearance"] != 2 {
		t.Errorf("forwarded call rings on %v", ca2.Data)
	}
	if st := ub.Status(); len(st.Calls) != 1 {
		t.Errorf("B took the busy call: %+v", st.Calls)
	}
	if _, err := pa.Hangup(ctx, ab2.ID); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, ab2.ID, "Ended")
}
