package sip_test

import (
	"testing"
	"time"

	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// controlAgent starts an agent for Ext 1 (user 1001) whose phone answers every control
// request 200 and reports it on the returned channel.
func controlAgent(t *testing.T, auth bool) (*sip.Agent, <-chan *sip.ControlRequest) {
	t.Helper()
	ch := make(chan *sip.ControlRequest, 8)
	a := newAgent(t, sip.Config{Proxy: "spa900.test", UserID: "1001", Password: "secret1001", NotifyAuth: auth,
		ServerName: "Linksys/SPA942-5.1.10",
		OnEvent: func(ev sip.Event) {
			if cr, ok := ev.(*sip.ControlRequest); ok {
				cr.Respond(200, "OK")
				ch <- cr
			}
		}})
	return a, ch
}

func TestNotifyControlEvents(t *testing.T) {
	tests := []struct {
		event  string
		action sip.ControlAction
		alias  bool
	}{
		{"resync", sip.ControlResync, false},
		{"reboot_now", sip.ControlReboot, false},
		{"restart_now", sip.ControlRestart, false},
		{"report", sip.ControlReport, false},
		{"check-sync", sip.ControlResync, true},                   // Wazo provd
		{"check-sync;reboot=true", sip.ControlResyncReboot, true}, // Wazo provd
		{"check-sync;reboot=false", sip.ControlResync, true},
		{"reboot", sip.ControlReboot, true},      // FreePBX spa-reboot
		{"reboot=true", sip.ControlReboot, true}, // FusionPBX
		{"Resync", sip.ControlResync, false},     // event packages are case-insensitive here
	}
	a, ch := controlAgent(t, true)
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify.xml", Target: a.LocalAddr().String(),
				Service: "1001", Keys: map[string]string{"event": tt.event}, AuthUser: "1001", AuthPass: "secret1001"})
			if res.Err != nil {
				t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
			}
			select {
			case cr := <-ch:
				if cr.Action != tt.action || cr.Alias != tt.alias || !cr.Authenticated || cr.Event != tt.event {
					t.Errorf("control = %v alias %v authenticated %v event %q, want %v alias %v authenticated",
						cr.Action, cr.Alias, cr.Authenticated, cr.Event, tt.action, tt.alias)
				}
			default:
				t.Fatal("no control request reached the phone")
			}
		})
	}
}

func TestNotifyChallenge(t *testing.T) {
	a, ch := controlAgent(t, true)
	// A sender that does not answer the challenge changes nothing.
	res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-noauth.xml", Target: a.LocalAddr().String(),
		Service: "1001", Keys: map[string]string{"event": "resync"}})
	if res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	// A sender with the wrong password is challenged again and gives up: SIPp fails.
	res = siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify.xml", Target: a.LocalAddr().String(),
		Service: "1001", Keys: map[string]string{"event": "resync"}, AuthUser: "1001", AuthPass: "wrong",
		Timeout: 3 * time.Second})
	if res.Err == nil {
		t.Errorf("NOTIFY with a wrong password was accepted\n%s", res.Output)
	}
	select {
	case cr := <-ch:
		t.Fatalf("control request %v reached the phone without authentication", cr.Action)
	default:
	}
}

func TestNotifyWithoutAuth(t *testing.T) {
	a, ch := controlAgent(t, false) // Auth_Resync-Reboot_1_ = No
	res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-expect.xml", Target: a.LocalAddr().String(),
		Service: "1001", Keys: map[string]string{"event": "reboot_now"}, Replace: map[string]string{"CODE": "200"}})
	if res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	if cr := <-ch; cr.Action != sip.ControlReboot || cr.Authenticated {
		t.Errorf("control = %v authenticated %v, want reboot, not authenticated", cr.Action, cr.Authenticated)
	}
}

func TestNotifyBadEvent(t *testing.T) {
	a, ch := controlAgent(t, true)
	for _, ev := range []string{"x-unknown", "check-cfg", "dialog-package-nonsense"} {
		res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-expect.xml", Target: a.LocalAddr().String(),
			Service: "1001", Keys: map[string]string{"event": ev}, Replace: map[string]string{"CODE": "489"}})
		if res.Err != nil {
			t.Errorf("Event %s: want 489 without a challenge: %v\n%s", ev, res.Err, res.Output)
		}
	}
	if len(ch) != 0 {
		t.Error("a bad event reached the phone")
	}
}
