package phone

import (
	"context"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// waitSubscription reads events until extension ext's subscription reaches state.
func waitSubscription(t *testing.T, events <-chan Event, ext int, state string) Event {
	t.Helper()
	for {
		ev := waitEvent(t, events, EventSubscription)
		if ev.Data["ext"] == ext && ev.Data["state"] == state {
			return ev
		}
	}
}

// waitAll reads events until each of preds has matched one, in whatever order they come
// (the first NOTIFY may overtake the 2xx of the SUBSCRIBE, RFC 6665 §4.1.2.4, and the flash
// keeps Message_Waiting a turn later); it returns the matching events in the order of preds.
func waitAll(t *testing.T, events <-chan Event, preds ...func(Event) bool) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got := make([]Event, len(preds))
	for left := len(preds); left > 0; {
		select {
		case e := <-events:
			for i, p := range preds {
				if got[i].Kind == "" && p(e) {
					got[i] = e
					left--
					break
				}
			}
		case <-ctx.Done():
			t.Fatalf("events not all seen: got %v", got)
		}
	}
	return got
}

func isSub(ext int, state string) func(Event) bool {
	return func(e Event) bool {
		return e.Kind == EventSubscription && e.Data["ext"] == ext && e.Data["state"] == state
	}
}

func isMWI(ext int, waiting bool) func(Event) bool {
	return func(e Event) bool { return e.Kind == EventMWI && e.Data["ext"] == ext && e.Data["waiting"] == waiting }
}

func isApplied(source string) func(Event) bool {
	return func(e Event) bool { return e.Kind == EventConfigApplied && e.Data["source"] == source }
}

// TestMWISubscription: an extension with Voice_Mail_Server_1_ subscribes to its mailbox
// (SPA-BEHAVIOUR §13.9) at a SIPp notifier; the NOTIFYs set Message_Waiting_1_ (kept, no
// restart) and the Info tab; the refresh runs on the phone's clock; a restart unsubscribes.
func TestMWISubscription(t *testing.T) {
	vm := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "mwi.xml", Service: "5000", Replace: map[string]string{"MAILBOX": "5000"}})
	clock := NewManualClock(voiceStart)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: defaults(
		"Resync_On_Reset", "No", "User_ID_1_", "1001", "Voice_Mail_Server_1_", vm.Addr, "Mailbox_ID_1_", "5000",
		"SIP_Timer_F", "2", "Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No")}, nil)
	p := mustPhone(t, u)

	got := waitAll(t, events, isSub(1, "active"), isMWI(1, true), isApplied("mwi"))
	ev, mw := got[0], got[1]
	if got[2].Data["restart"] != false {
		t.Errorf("config_applied = %v, want Message_Waiting kept live", got[2].Data)
	}
	if ev.Data["expires_seconds"] != int64(60) || ev.Data["next_in_seconds"] != int64(30) || ev.Data["target"] != "sip:5000@"+vm.Addr {
		t.Errorf("subscription event = %v, want sip:5000@%s granted 60 s, refreshed in 30 s", ev.Data, vm.Addr)
	}
	if mw.Data["new"] != 2 || mw.Data["old"] != 1 || mw.Data["subscribed"] != true {
		t.Errorf("mwi event = %v", mw.Data)
	}
	st := u.Status()
	if e := st.Extensions[0]; !e.MessageWaiting || e.MWISubscription == nil || e.MWISubscription.State != "active" ||
		!st.Info.Ext[0].MessageWaiting || st.Config.Get("Message_Waiting_1_") != "Yes" || len(st.Pending) != 0 {
		t.Errorf("status: ext %+v sub %+v, Info %+v, Message_Waiting_1_ %q, pending %v",
			e, e.MWISubscription, st.Info.Ext[0], st.Config.Get("Message_Waiting_1_"), st.Pending)
	}

	clock.Advance(30 * time.Second) // the refresh, in the dialog; its NOTIFY clears the lamp
	waitAll(t, events, isSub(1, "active"), isMWI(1, false), isApplied("mwi"))
	if st := u.Status(); st.Config.Get("Message_Waiting_1_") != "No" || st.Info.Ext[0].MessageWaiting {
		t.Errorf("after the second NOTIFY: Message_Waiting_1_ %q, Info %+v", st.Config.Get("Message_Waiting_1_"), st.Info.Ext[0])
	}

	if _, err := p.RequestRestart(t.Context(), "test"); err != nil { // unsubscribes first
		t.Fatal(err)
	}
	if res := vm.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
}

// TestMWIRefused: a server without message-summary answers 489; the phone does not ask again.
func TestMWIRefused(t *testing.T) {
	vm := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "mwi-refuse.xml", Replace: map[string]string{"CODE": "489"}})
	clock := NewManualClock(voiceStart)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: defaults(
		"Resync_On_Reset", "No", "User_ID_1_", "1001", "Voice_Mail_Server_1_", vm.Addr,
		"Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No")}, nil)
	ev := waitSubscription(t, events, 1, "stopped")
	if ev.Data["code"] != 489 || ev.Data["next_in_seconds"] != nil {
		t.Errorf("subscription event = %v, want 489 and no next attempt", ev.Data)
	}
	if s := u.Status().Extensions[0].MWISubscription; s == nil || s.State != "stopped" || s.Next != nil || s.LastCode != 489 {
		t.Errorf("subscription status = %+v", s)
	}
	if res := vm.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
}

// TestMWIUnsolicited: an unsolicited message-summary NOTIFY sets Message_Waiting_1_, without a
// subscription; a profile that clears it is applied live and the Info tab follows.
func TestMWIUnsolicited(t *testing.T) {
	u, events := startUnit(t, Options{IP: "127.0.0.1", Defaults: defaults(
		"Resync_On_Reset", "No", "User_ID_1_", "1001", "Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No")}, nil)
	addr := u.Status().Extensions[0].SIPAddr
	res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "mwi-unsolicited.xml", Target: addr, Service: "1001",
		Keys: map[string]string{"waiting": "yes"}})
	if res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if ev := waitAll(t, events, isMWI(1, true), isApplied("mwi")); ev[0].Data["subscribed"] != false {
		t.Errorf("mwi event = %v", ev[0].Data)
	}
	if st := u.Status(); st.Config.Get("Message_Waiting_1_") != "Yes" || !st.Info.Ext[0].MessageWaiting || st.Extensions[0].MWISubscription != nil {
		t.Errorf("Message_Waiting_1_ %q, Info %+v, subscription %+v", st.Config.Get("Message_Waiting_1_"), st.Info.Ext[0], st.Extensions[0].MWISubscription)
	}
	d, err := mustPhone(t, u).ApplyProfile(t.Context(), "test", []byte("<flat-profile><Message_Waiting_1_>No</Message_Waiting_1_></flat-profile>"))
	if err != nil || d.Restart {
		t.Fatalf("profile: %+v, %v; want applied without a restart", d, err)
	}
	if st := u.Status(); st.Info.Ext[0].MessageWaiting || st.Extensions[0].MessageWaiting {
		t.Errorf("after the profile: Info %+v", st.Info.Ext[0])
	}
}
