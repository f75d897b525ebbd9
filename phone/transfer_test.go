package phone

import (
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// consultation: A calls B, B holds A and calls C; it returns once C rings (answered when
// answer), with B's calls to A and to C, and C's ringing (or connected) call.
func consultation(t *testing.T, answer bool, setsB, setsC []string) consult {
	t.Helper()
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	var x consult
	x.ua, x.ub, x.ea, x.eb = twoPhones(t, k, setsB...)
	uc, ec := carol(t, k, setsC...)
	x.ec = ec
	x.pa, x.pb, x.pc = mustPhone(t, x.ua), mustPhone(t, x.ub), mustPhone(t, uc)
	ctx := t.Context()
	abc, ba := callAnswered(t, x.pa, x.ea, x.pb, x.eb, "1002")
	x.ab, x.ba = abc.ID, ba
	if _, err := x.pb.Hold(ctx, ba); err != nil {
		t.Fatal(err)
	}
	waitCall(t, x.eb, ba, CallHeld)
	if answer {
		bcc, cb := callAnswered(t, x.pb, x.eb, x.pc, x.ec, "1003")
		x.bc, x.cb = bcc.ID, cb
		return x
	}
	bcc, err := x.pb.Dial(ctx, 1, "1003", false)
	if err != nil {
		t.Fatal(err)
	}
	x.bc = bcc.ID
	x.cb = waitCall(t, x.ec, "", CallRinging).Data["call"].(string)
	waitCall(t, x.eb, bcc.ID, CallProceeding)
	return x
}

// consult is A (1001) on hold at B (1002) while B consults C (1003): the three phones, their
// event streams, and the calls by who holds them (ab: A's call to B, ba: B's of it; bc: B's
// call to C, cb: C's of it).
type consult struct {
	pa, pb, pc     *Phone
	ea, eb, ec     <-chan Event
	ab, ba, bc, cb string
	ua, ub         *Unit
}

// talkAC answers at C the call ca that the transfer made, and waits until A and C talk and B
// has no call left with either: C connected, B's calls ended, A's old call ended, and A's one
// call connected to 1003.
func (x consult) talkAC(t *testing.T, ca string) {
	t.Helper()
	if _, err := x.pc.Answer(t.Context(), ca); err != nil {
		t.Fatal(err)
	}
	waitCall(t, x.ec, ca, CallConnected)
	waitEnded(t, x.eb, x.bc, x.ba)
	waitCall(t, x.ea, x.ab, "Ended")
	if st := x.ua.Status().Calls; len(st) != 1 || st[0].State != CallConnected || st[0].PeerPhone != "1003" {
		t.Errorf("transferee's calls after the transfer: %+v", st)
	}
}

// endedAndRings reads events until call old has ended and another call rings, in either
// order (the target's new call may ring before the old one's end reaches it); it returns the
// old call's end and the new call's id.
func endedAndRings(t *testing.T, events <-chan Event, old string) (Event, string) {
	t.Helper()
	var ended Event
	ringing := ""
	for ended.Kind == "" || ringing == "" {
		e := waitEvent(t, events, EventCall)
		switch id, _ := e.Data["call"].(string); {
		case id == old && e.Data["state"] == "Ended":
			ended = e
		case id != old && e.Data["state"] == CallRinging && ringing == "":
			ringing = id
		}
	}
	return ended, ringing
}

// TestSemiAttendedTransfer: B completes the transfer of A to C while C still rings
// (SPA-BEHAVIOUR §13.6): B CANCELs its call to C and REFERs A to C blind; C rings again, now
// with A's call, and A and C talk once C answers.
func TestSemiAttendedTransfer(t *testing.T) {
	x := consultation(t, false, nil, nil)
	if _, err := x.pb.TransferReplaces(t.Context(), x.ba, x.bc); err != nil {
		t.Fatalf("TransferReplaces of a ringing target: %v", err)
	}
	ev, ca := endedAndRings(t, x.ec, x.cb)
	if ev.Data["code"] != 487 {
		t.Errorf("C's ringing call from B ended %v, want 487 (CANCEL)", ev.Data)
	}
	x.talkAC(t, ca)
	if calls := x.ub.Status().Calls; len(calls) != 0 {
		t.Errorf("transferor's calls after the transfer: %+v", calls)
	}
}

// TestBlindAttnXferEnable: with Blind_Attn-Xfer_Enable_1_ = Yes, B completes an attended
// transfer blind (SPA-BEHAVIOUR §13.6 [inf]): the consultation call ends, A is REFERred to C
// without Replaces, and C rings with A's call.
func TestBlindAttnXferEnable(t *testing.T) {
	x := consultation(t, true, []string{"Blind_Attn-Xfer_Enable_1_", "Yes"}, nil)
	if _, err := x.pb.TransferReplaces(t.Context(), x.ba, x.bc); err != nil {
		t.Fatalf("TransferReplaces: %v", err)
	}
	ev, ca := endedAndRings(t, x.ec, x.cb) // no Replaces: A's call rings
	if ev.Data["reason"] != "remote hang-up" {
		t.Errorf("C's consultation call ended %v, want B's BYE", ev.Data)
	}
	x.talkAC(t, ca)
}

// TestReferTargetByeDelay: the target of an attended transfer with Refer_Target_Bye_Delay_1_
// = 5 answers the INVITE with Replaces at once and keeps the replaced call 5 s on its clock
// before its BYE (SPA-BEHAVIOUR §13.6).
func TestReferTargetByeDelay(t *testing.T) {
	clockC := NewManualClock(voiceStart)
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	ua, ub, ea, eb := twoPhones(t, k)
	uc, ec := startUnit(t, Options{IP: "127.0.0.1", Clock: clockC, Defaults: sipDefaults(t, k,
		"User_ID_1_", "1003", "Password_1_", "secret1003", "Display_Name_1_", "Carol", "Refer_Target_Bye_Delay_1_", "5")}, nil)
	waitRegistration(t, ec, 1, "Registered")
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()
	ab, ba := callAnswered(t, pa, ea, pb, eb, "1002")
	if _, err := pb.Hold(ctx, ba); err != nil {
		t.Fatal(err)
	}
	waitCall(t, eb, ba, CallHeld)
	bc, cb := callAnswered(t, pb, eb, pc, ec, "1003")
	if _, err := pb.TransferReplaces(ctx, ba, bc.ID); err != nil {
		t.Fatal(err)
	}
	ca := waitCall(t, ec, "", CallConnected).Data["call"].(string)
	if ca == cb {
		t.Fatal("C's old call reconnected")
	}
	waitCall(t, eb, ba, "Ended") // A reported its new call up; B left A
	waitCall(t, ea, ab.ID, "Ended")
	if calls := uc.Status().Calls; len(calls) != 2 {
		t.Fatalf("target's calls before Refer_Target_Bye_Delay ran out: %+v", calls)
	}
	clockC.Advance(4 * time.Second)
	if calls := uc.Status().Calls; len(calls) != 2 {
		t.Fatalf("target's calls 4 s into the delay: %+v", calls)
	}
	clockC.Advance(time.Second)
	waitCall(t, ec, cb, "Ended")
	waitCall(t, eb, bc.ID, "Ended")
	if calls := uc.Status().Calls; len(calls) != 1 || calls[0].ID != ca || calls[0].PeerPhone != "1001" {
		t.Errorf("target's calls after the delay: %+v", calls)
	}
}

// TestRefereeByeDelay: a SIPp transferor REFERs the phone to another phone and never hangs
// up; with Referee_Bye_Delay_1_ = 5 the phone, once its new call is up, keeps the old one 5 s
// on its clock and then sends the BYE itself (SPA-BEHAVIOUR §13.6).
func TestRefereeByeDelay(t *testing.T) {
	uc, ec, targetC := notifyPhone(t)
	clock := NewManualClock(voiceStart)
	port := strconv.Itoa(provtest.FreeUDPPort(t))
	ua, ea := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: defaults("Resync_On_Reset", "No",
		"Proxy_1_", "", "User_ID_1_", "1001", "SIP_Port_1_", port, "Referee_Bye_Delay_1_", "5",
		"Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No")}, nil)
	uac := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "refer-transferor.xml", Target: "127.0.0.1:" + port,
		Service: "1001", Keys: map[string]string{"refer_to": "sip:1003@" + targetC}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("transferor: %s", uac.Wait(time.Second).Output)
		}
	})
	old := answerNext(t, mustPhone(t, ua), ea)
	nc := waitCall(t, ea, "", CallProceeding).Data["call"].(string) // the transfer's call rings at C
	answerNext(t, mustPhone(t, uc), ec)
	waitCall(t, ea, nc, CallConnected)
	if calls := ua.Status().Calls; len(calls) != 2 {
		t.Fatalf("referee's calls once the new one is up: %+v", calls)
	}
	clock.Advance(4 * time.Second)
	if calls := ua.Status().Calls; len(calls) != 2 {
		t.Fatalf("referee's calls 4 s into Referee_Bye_Delay: %+v", calls)
	}
	clock.Advance(time.Second)
	if ev := waitCall(t, ea, old, "Ended"); ev.Data["reason"] != "local hang-up" {
		t.Errorf("old call ended %v, want the referee's BYE", ev.Data)
	}
	if res := uac.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if calls := ua.Status().Calls; len(calls) != 1 || calls[0].ID != nc {
		t.Errorf("referee's calls after the delay: %+v", calls)
	}
}
