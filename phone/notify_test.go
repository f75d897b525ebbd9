package phone

import (
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// notifyPhone starts a phone whose Ext 1 (user 1001, password secret1001) listens on a free
// port and registers nowhere: control NOTIFYs go straight to it.
func notifyPhone(t *testing.T, sets ...string) (*Unit, <-chan Event, string) {
	t.Helper()
	port := strconv.Itoa(provtest.FreeUDPPort(t))
	base := []string{"Resync_On_Reset", "No", "Proxy_1_", "", "User_ID_1_", "1001", "Password_1_", "secret1001",
		"SIP_Port_1_", port, "Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No"}
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart),
		Defaults: defaults(append(base, sets...)...)}, nil)
	return u, events, "127.0.0.1:" + port
}

func sendNotify(t *testing.T, target, event string, auth bool) siptest.SIPpResult {
	t.Helper()
	run := siptest.SIPpRun{Scenario: "notify.xml", Target: target, Service: "1001",
		Keys: map[string]string{"event": event}}
	if auth {
		run.AuthUser, run.AuthPass = "1001", "secret1001"
	} else {
		run.Scenario = "notify-noauth.xml"
	}
	return siptest.RunSIPp(t, run)
}

// TestNotifyRealServerForms sends the NOTIFY forms that real provisioning servers send, each
// through SIPp answering the phone's challenge, and checks that each does what DECISIONS 18
// says: check-sync (Wazo provd) and resync (Asterisk sipura-check-cfg) resync, reboot=true
// (FusionPBX) and reboot (FreePBX spa-reboot) reboot.
func TestNotifyRealServerForms(t *testing.T) {
	tests := []struct {
		server, event string
		reboot        bool
	}{
		{"Wazo provd", "check-sync", false},
		{"FusionPBX", "reboot=true", true},
		{"FreePBX spa-reboot", "reboot", true},
		{"Asterisk sipura-check-cfg", "resync", false},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			u, events, target := notifyPhone(t)
			boots := u.Status().BootCount
			if res := sendNotify(t, target, tt.event, true); res.Err != nil {
				t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
			}
			ev := waitEvent(t, events, EventNotify)
			if ev.Data["code"] != 200 || ev.Data["authenticated"] != true {
				t.Errorf("notify event = %v", ev.Data)
			}
			if tt.reboot {
				waitEvent(t, events, EventShutdown)
				waitEvent(t, events, EventBoot)
				if n := u.Status().BootCount; n != boots+1 {
					t.Errorf("boot count %d, want %d", n, boots+1)
				}
				return
			}
			ev = waitEvent(t, events, EventStarted)
			if ev.Data["op"] != "resync" || ev.Data["reason"] != "sip notify "+tt.event+" on ext 1" {
				t.Errorf("started = %v, want the NOTIFY's resync", ev.Data)
			}
		})
	}
}

func TestNotifyCheckSyncReboot(t *testing.T) {
	u, events, target := notifyPhone(t)
	boots := u.Status().BootCount
	if res := sendNotify(t, target, "check-sync;reboot=true", true); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	ev := waitEvent(t, events, EventStarted)
	if ev.Data["op"] != "resync" {
		t.Fatalf("started %v, want the resync first", ev.Data)
	}
	waitEvent(t, events, EventResyncResult)
	waitEvent(t, events, EventShutdown)
	waitEvent(t, events, EventBoot)
	if n := u.Status().BootCount; n != boots+1 {
		t.Errorf("boot count %d, want %d", n, boots+1)
	}
}

// TestNotifyUnauthenticatedChangesNothing: a sender that does not answer the 401 gets nothing
// done. The phone's handling ends before SIPp receives the 401, so the status right after
// the run is the final word.
func TestNotifyUnauthenticatedChangesNothing(t *testing.T) {
	u, _, target := notifyPhone(t)
	before := u.Status()
	for _, ev := range []string{"resync", "reboot_now", "restart_now", "check-sync", "reboot=true"} {
		if res := sendNotify(t, target, ev, false); res.Err != nil {
			t.Fatalf("%s: sipp: %v\n%s", ev, res.Err, res.Output)
		}
	}
	after := u.Status()
	if len(after.Pending) != 0 || after.Provisioning.ResyncCount != before.Provisioning.ResyncCount ||
		after.BootCount != before.BootCount {
		t.Errorf("after unauthenticated NOTIFYs: pending %v, resyncs %d (was %d), boots %d (was %d)",
			after.Pending, after.Provisioning.ResyncCount, before.Provisioning.ResyncCount, after.BootCount, before.BootCount)
	}
}

func TestNotifyGates(t *testing.T) {
	t.Run("Resync_From_SIP No refuses with 403", func(t *testing.T) {
		_, _, target := notifyPhone(t, "Resync_From_SIP", "No", "Auth_Resync-Reboot_1_", "No")
		res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-expect.xml", Target: target, Service: "1001",
			Keys: map[string]string{"event": "resync"}, Replace: map[string]string{"CODE": "403"}})
		if res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
	})
	t.Run("Auth_Resync-Reboot No takes it without a challenge", func(t *testing.T) {
		_, events, target := notifyPhone(t, "Auth_Resync-Reboot_1_", "No")
		res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-expect.xml", Target: target, Service: "1001",
			Keys: map[string]string{"event": "restart_now"}, Replace: map[string]string{"CODE": "200"}})
		if res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
		ev := waitEvent(t, events, EventStarted)
		if ev.Data["op"] != "restart" {
			t.Errorf("started %v, want the restart", ev.Data)
		}
	})
	t.Run("reboot_now waits for idle", func(t *testing.T) {
		u, events, target := notifyPhone(t)
		p := mustPhone(t, u)
		if err := p.SetHook(t.Context(), true); err != nil {
			t.Fatal(err)
		}
		if res := sendNotify(t, target, "reboot_now", true); res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
		ev := waitEvent(t, events, EventDeferred)
		if ev.Data["op"] != "reboot" {
			t.Fatalf("deferred %v", ev.Data)
		}
		if err := p.SetHook(t.Context(), false); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, EventShutdown)
	})
	t.Run("unknown event 489", func(t *testing.T) {
		_, _, target := notifyPhone(t)
		res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-expect.xml", Target: target, Service: "1001",
			Keys: map[string]string{"event": "x-spa-nonsense"}, Replace: map[string]string{"CODE": "489"}})
		if res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
	})
}

// TestNotifyCheckSyncRebootDuringRunningResync: Wazo's check-sync;reboot=true while a slow
// resync runs is queued with its reason and its reboot (DECISIONS 8, 18): the queued resync
// runs when the running one ends, then the phone reboots.
func TestNotifyCheckSyncRebootDuringRunningResync(t *testing.T) {
	srv := startSlowServer(t)
	u, events, target := notifyPhone(t, "Profile_Rule", srv.URL+"/slow.cfg")
	boots := u.Status().BootCount
	if _, err := mustPhone(t, u).RequestResync(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.entered:
	case <-time.After(time.Minute): // t.Context ends only after the test returns
		t.Fatal("the resync never reached the server")
	}
	if res := sendNotify(t, target, "check-sync;reboot=true", true); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	waitEvent(t, events, EventNotify)
	const reason = "sip notify check-sync;reboot=true on ext 1"
	var queued []Pending
	for _, pd := range u.Status().Pending {
		if pd.WaitsFor != "" {
			queued = append(queued, pd)
		}
	}
	if len(queued) != 1 || queued[0].Reason != reason {
		t.Fatalf("pending %+v, want the NOTIFY's resync queued", u.Status().Pending)
	}
	close(srv.release)
	for {
		ev := waitEvent(t, events, EventStarted)
		if ev.Data["op"] == "resync" && ev.Data["reason"] == reason {
			break
		}
	}
	waitEvent(t, events, EventResyncResult)
	waitEvent(t, events, EventShutdown)
	waitEvent(t, events, EventBoot)
	if n := u.Status().BootCount; n != boots+1 {
		t.Errorf("boot count %d, want %d", n, boots+1)
	}
}
