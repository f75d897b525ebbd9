package phone

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// sharedPhone starts a phone whose Ext 1 is user (no proxy) and whose Ext 2, on port, is the
// shared account 2000 with its dialog NOTIFYs going to the state agent stateAgent, shown on
// line key 2 as a shared appearance.
func sharedPhone(t *testing.T, user, port, stateAgent string, sets ...string) (*Unit, <-chan Event) {
	t.Helper()
	return startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: defaults(append([]string{
		"Resync_On_Reset", "No", "SIP_Timer_F", "2",
		"Proxy_1_", "", "User_ID_1_", user, "SIP_Port_1_", strconv.Itoa(provtest.FreeUDPPort(t)),
		"Line_Enable_2_", "Yes", "Proxy_2_", "", "User_ID_2_", "2000", "Display_Name_2_", "Sales", "SIP_Port_2_", port,
		"Share_Ext_2_", "shared", "Shared_User_ID_2_", "2000", "State_Agent_2_", stateAgent,
		"Extension_2_", "2", "Share_Call_Appearance_2_", "shared",
		"Line_Enable_3_", "No", "Line_Enable_4_", "No"}, sets...)...)}, nil)
}

// waitShared reads events until appearance app of extension 2 reaches the LED state.
func waitShared(t *testing.T, events <-chan Event, app int, state string) Event {
	t.Helper()
	for {
		e := waitEvent(t, events, EventSharedLine)
		if e.Data["ext"] == 2 && e.Data["appearance"] == app && e.Data["state"] == state {
			return e
		}
	}
}

// sharingPair starts the far end C (a plain phone), then B (1002) sharing its line through a
// SIPp state agent that only acknowledges, with B's extra settings setsB, and, once B has
// told it its full state, the state agent of scenario that relays between A and B, and A
// (1001) sharing through it.
func sharingPair(t *testing.T, scenario string, setsB ...string) sharing {
	t.Helper()
	var x sharing
	x.uc, x.ec, x.targetC = notifyPhone(t)
	ack := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "sla-ack.xml", Timeout: 60 * time.Second})
	aPort, bPort := strconv.Itoa(provtest.FreeUDPPort(t)), strconv.Itoa(provtest.FreeUDPPort(t))
	x.ub, x.eb = sharedPhone(t, "1002", bPort, ack.Addr, setsB...)
	waitShared(t, x.eb, 1, LEDRemoteUndefined)
	x.server = siptest.StartSIPp(t, siptest.SIPpRun{Scenario: scenario, Replace: map[string]string{"APORT": aPort, "BPORT": bPort}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("state agent: %s", x.server.Wait(time.Second).Output)
		}
	})
	x.ua, x.ea = sharedPhone(t, "1001", aPort, x.server.Addr)
	return x
}

// sharing is what sharingPair started: A and B sharing, the far end C (at targetC), and the
// state agent between A and B.
type sharing struct {
	ua, ub, uc *Unit
	ea, eb, ec <-chan Event
	targetC    string
	server     *siptest.SIPpProc
}

// TestSharedLineSPA9000: two phones share the account 2000 on their Ext 2 behind a SIPp
// playing the SPA9000's state agent (SPA-BEHAVIOUR §13.8). A registers nothing and sends its
// full-state NOTIFY at once; the server's full state shows appearance 2 in use by a third
// phone on both. A calls C on appearance 1, seizing it first (B sees Remote_Seized and can
// seize nothing), then B sees the call progress, go up and be held; B resumes it with an
// INVITE with Replaces to C, which drops A: the call moved from A to B.
func TestSharedLineSPA9000(t *testing.T) {
	x := sharingPair(t, "sla-server.xml")
	ua, ea, ub, eb, uc, ec, targetC, server := x.ua, x.ea, x.ub, x.eb, x.uc, x.ec, x.targetC, x.server
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()

	for _, e := range []<-chan Event{ea, eb} {
		if by := waitShared(t, e, 2, LEDRemoteActive).Data["by"]; by != "sip:5099@127.0.0.1" {
			t.Errorf("appearance 2 held by %v", by)
		}
	}
	if st := ub.Status().Extensions[1].SharedLine; st == nil || st.User != "2000" || st.Appearances[0].State != LEDIdle {
		t.Errorf("B's shared line: %+v", st)
	}

	ab, err := pa.Dial(ctx, 2, "sip:1003@"+targetC, true)
	if err != nil {
		t.Fatal(err)
	}
	if ab.State != CallDialing || ab.Appearance != 1 {
		t.Errorf("A's call on the shared line: %+v, want Dialing on appearance 1", ab.CallStatus)
	}
	waitShared(t, ea, 1, LEDLocalSeized)
	if by := waitShared(t, eb, 1, LEDRemoteSeized).Data["by"]; by != "sip:1001@127.0.0.1" {
		t.Errorf("B: appearance 1 seized by %v", by)
	}
	if _, err := pb.Dial(ctx, 2, "sip:1003@"+targetC, true); !errors.Is(err, ErrCallState) {
		t.Errorf("B seized a shared line both of whose appearances other phones use: %v", err)
	}
	if st := ub.Status(); st.Info.Lines[1][0].State != "Busy" || st.Info.Lines[1][1].State != "Busy" {
		t.Errorf("B's Info Call_State of Ext 2: %q, %q, want Busy", st.Info.Lines[1][0].State, st.Info.Lines[1][1].State)
	}
	waitCall(t, ea, ab.ID, CallProceeding)
	waitShared(t, eb, 1, LEDRemoteProgressing)
	ca := answerNext(t, pc, ec)
	waitCall(t, ea, ab.ID, CallConnected)
	waitShared(t, eb, 1, LEDRemoteActive)
	if _, err := pb.ResumeShared(ctx, 2, 1); !errors.Is(err, ErrCallState) {
		t.Errorf("B took over a call active on A (no barge-in): %v", err)
	}
	if _, err := pa.Hold(ctx, ab.ID); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, ab.ID, CallHeld)
	waitShared(t, eb, 1, LEDRemoteHeld)

	bc, err := pb.ResumeShared(ctx, 2, 1)
	if err != nil {
		t.Fatalf("ResumeShared: %v", err)
	}
	waitCall(t, eb, bc.ID, CallConnected)
	waitCall(t, ec, ca, "Ended") // C took B's call in place of A's
	waitCall(t, ec, "", CallConnected)
	waitCall(t, ea, ab.ID, "Ended")
	waitShared(t, eb, 1, LEDLocalActive)
	if st := uc.Status().Calls; len(st) != 1 || st[0].State != CallConnected || st[0].PeerPhone != "2000" {
		t.Errorf("C's calls after the resume: %+v", st)
	}
	if res := server.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("state agent: %v\n%s", res.Err, res.Output)
	}
}

// TestSharedLineRingsEverywhere: two phones register the shared account 2000 on their Ext 2
// at Kamailio, which forks a call to 2000 to both (SPA-BEHAVIOUR §13.8: every sharing phone
// rings); the first to answer takes it, the other's ringing ends with the CANCEL Kamailio
// sends, and the answering phone reports the appearance confirmed to the state agent.
func TestSharedLineRingsEverywhere(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{Users: append(siptest.DefaultUsers(), siptest.User{Name: "2000", Password: "secret2000"})})
	ack := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "sla-ack.xml", Calls: 2, Timeout: 60 * time.Second})
	shared := func(user string) []string {
		return []string{"User_ID_1_", user, "Password_1_", "secret" + user,
			"Line_Enable_2_", "Yes", "Proxy_2_", k.Addr, "User_ID_2_", "2000", "Password_2_", "secret2000",
			"SIP_Port_2_", strconv.Itoa(provtest.FreeUDPPort(t)), "Share_Ext_2_", "shared", "State_Agent_2_", ack.Addr,
			"Extension_2_", "2", "Share_Call_Appearance_2_", "shared"}
	}
	ua, ea := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, shared("1001")...)}, nil)
	ub, eb := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, shared("1002")...)}, nil)
	for _, e := range []<-chan Event{ea, eb} {
		waitRegistration(t, e, 2, "Registered")
	}
	uc, ec := carol(t, k)
	pa, pc := mustPhone(t, ua), mustPhone(t, uc)
	ctx := t.Context()

	cc, err := pc.Dial(ctx, 1, "2000", false)
	if err != nil {
		t.Fatal(err)
	}
	ra := waitCall(t, ea, "", CallRinging)
	rb := waitCall(t, eb, "", CallRinging)
	if ra.Data["ext"] != 2 || rb.Data["ext"] != 2 {
		t.Errorf("rang on %v and %v, want Ext 2 on both", ra.Data, rb.Data)
	}
	waitShared(t, ea, 1, LEDLocalRinging)
	if _, err := pa.Answer(ctx, ra.Data["call"].(string)); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, ra.Data["call"].(string), CallConnected)
	waitShared(t, ea, 1, LEDLocalActive)
	if ev := waitCall(t, eb, rb.Data["call"].(string), "Ended"); ev.Data["code"] != 487 {
		t.Errorf("B's ringing ended %v, want 487 (CANCEL)", ev.Data)
	}
	waitCall(t, ec, cc.ID, CallConnected)
	if st := ub.Status(); len(st.Calls) != 0 || !st.Idle {
		t.Errorf("B after A answered: idle %v, calls %+v", st.Idle, st.Calls)
	}
	if st := ua.Status().Extensions[1].SharedLine; st == nil || st.Appearances[0].State != LEDLocalActive || st.Appearances[1].State != LEDRemoteUndefined {
		t.Errorf("A's shared line: %+v", st)
	}
}

// TestSharedLineBroadSoftRefused: a server that answers the dialog NOTIFY with 489 does not
// speak the SPA9000 form; the extension works as a private line (a call goes out without a
// seize) and the BroadSoft call-info NOTIFY the server sends gets 489 (SPA-BEHAVIOUR §13.8:
// that variant is not built).
func TestSharedLineBroadSoftRefused(t *testing.T) {
	_, _, targetC := notifyPhone(t)
	aPort := strconv.Itoa(provtest.FreeUDPPort(t))
	server := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "sla-broadsoft.xml", Replace: map[string]string{"APORT": aPort}})
	ua, ea := sharedPhone(t, "1001", aPort, server.Addr)
	if res := server.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("server: %v\n%s", res.Err, res.Output)
	}
	waitShared(t, ea, 1, LEDIdle)
	if st := ua.Status().Extensions[1].SharedLine; st == nil || st.State != "private" || st.LastCode != 489 {
		t.Errorf("shared line after the refusal: %+v", st)
	}
	c, err := mustPhone(t, ua).Dial(t.Context(), 2, "sip:1003@"+targetC, true)
	if err != nil || c.State != CallCalling {
		t.Errorf("call on the now private line: %+v, %v", c.CallStatus, err)
	}
}

// TestSharedLineSeizeRefused: the state agent refuses the seize (403: another phone took the
// key first); the call ends without an INVITE, and the phone releases the appearance with a
// terminated NOTIFY.
func TestSharedLineSeizeRefused(t *testing.T) {
	uc, _, targetC := notifyPhone(t)
	server := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "sla-deny.xml"})
	ua, ea := sharedPhone(t, "1001", strconv.Itoa(provtest.FreeUDPPort(t)), server.Addr)
	waitEvent(t, ea, EventSharedLine)
	c, err := mustPhone(t, ua).Dial(t.Context(), 2, "sip:1003@"+targetC, true)
	if err != nil || c.State != CallDialing {
		t.Fatalf("Dial on the shared line: %+v, %v", c.CallStatus, err)
	}
	if ev := waitCall(t, ea, c.ID, "Ended"); ev.Data["code"] != 403 {
		t.Errorf("refused seize ended the call %v, want 403", ev.Data)
	}
	if res := server.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("state agent: %v\n%s", res.Err, res.Output)
	}
	if st := uc.Status(); len(st.Calls) != 0 || st.Info.Counters.SIPMessagesRecv != 0 {
		t.Errorf("the far end heard of the call: %d messages, calls %+v", st.Info.Counters.SIPMessagesRecv, st.Calls)
	}
	if st := ua.Status().Extensions[1].SharedLine; st == nil || st.Appearances[0].State == LEDLocalSeized {
		t.Errorf("shared line after the refusal: %+v", st)
	}
}

// TestSharedLineBargeIn: with SCA_Barge-In_Enable Yes, B adds itself to A's call in progress
// on the shared appearance (SPA-BEHAVIOUR §13.8): an INVITE with Join (RFC 3911) of A's
// dialog to C, which answers it and conferences both legs; when A hangs up, B and C go on.
// Without the switch, the barge is refused.
func TestSharedLineBargeIn(t *testing.T) {
	x := sharingPair(t, "sla-barge.xml", "SCA_Barge-In_Enable", "Yes")
	ua, ea, ub, eb, uc, ec, targetC, server := x.ua, x.ea, x.ub, x.eb, x.uc, x.ec, x.targetC, x.server
	pa, pb, pc := mustPhone(t, ua), mustPhone(t, ub), mustPhone(t, uc)
	ctx := t.Context()
	waitShared(t, ea, 2, LEDRemoteActive)
	waitShared(t, eb, 2, LEDRemoteActive)

	ab, err := pa.Dial(ctx, 2, "sip:1003@"+targetC, true)
	if err != nil {
		t.Fatal(err)
	}
	waitCall(t, ea, ab.ID, CallProceeding)
	ca := answerNext(t, pc, ec)
	waitCall(t, ea, ab.ID, CallConnected)
	waitShared(t, eb, 1, LEDRemoteActive)
	if _, err := pa.BargeShared(ctx, 2, 2); !errors.Is(err, ErrCallState) {
		t.Errorf("A barged with SCA_Barge-In_Enable No: %v", err)
	}

	bc, err := pb.BargeShared(ctx, 2, 1)
	if err != nil {
		t.Fatalf("BargeShared: %v", err)
	}
	waitCall(t, eb, bc.ID, CallConnected)
	cb := waitCall(t, ec, "", CallConnected).Data["call"].(string)
	if cb == ca {
		t.Fatal("C's call with A connected again")
	}
	st := uc.Status()
	if len(st.Calls) != 2 || st.Calls[0].Conference == "" || st.Calls[1].Conference == "" {
		t.Errorf("C's calls once B joined: %+v", st.Calls)
	}
	if _, err := pa.Hangup(ctx, ab.ID); err != nil {
		t.Fatal(err)
	}
	waitCall(t, ec, ca, "Ended")
	if st := uc.Status().Calls; len(st) != 1 || st[0].ID != cb || st[0].State != CallConnected {
		t.Errorf("C's calls after A left: %+v", st)
	}
	if res := server.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("state agent: %v\n%s", res.Err, res.Output)
	}
}
