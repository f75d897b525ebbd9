package phone

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

var voiceStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// sipDefaults are the factory defaults of a test phone whose Ext 1 registers to k as 1001 on
// a free port, with the other extensions off and no boot resync.
func sipDefaults(t *testing.T, k *siptest.Kamailio, sets ...string) []config.Change {
	t.Helper()
	base := []string{
		"Resync_On_Reset", "No",
		"Proxy_1_", k.Addr, "User_ID_1_", "1001", "Password_1_", "secret1001", "Display_Name_1_", "Alice",
		"SIP_Port_1_", strconv.Itoa(provtest.FreeUDPPort(t)), "SIP_Timer_F", "2",
		"Line_Enable_2_", "No", "Line_Enable_3_", "No", "Line_Enable_4_", "No",
	}
	return defaults(append(base, sets...)...)
}

// waitRegistration reads events until extension ext's registration reaches state.
func waitRegistration(t *testing.T, events <-chan Event, ext int, state string) Event {
	t.Helper()
	for {
		ev := waitEvent(t, events, EventRegistration)
		if ev.Data["ext"] == ext && ev.Data["state"] == state {
			return ev
		}
	}
}

func TestRegistrationKamailio(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	clock := NewManualClock(voiceStart)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock,
		Defaults: sipDefaults(t, k, "Register_Expires_1_", "60")}, nil)

	ev := waitRegistration(t, events, 1, "Registered")
	if ev.Data["expires_seconds"] != int64(60) || ev.Data["next_in_seconds"] != int64(30) {
		t.Errorf("registration event = %v, want 60 s granted, refresh in 30 s", ev.Data)
	}
	st := u.Status()
	e := st.Extensions[0]
	if e.Registration != "Registered" || e.SIPAddr == "" || e.RegisteredAt == nil || !e.RegisteredAt.Equal(voiceStart) {
		t.Errorf("extension 1 = %+v, want Registered at %v", e, voiceStart)
	}
	if in := st.Info.Ext[0]; in.RegistrationState != "Registered" || in.LastRegistrationAt != "3/1/2026 09:00:00" ||
		in.NextRegistrationIn != "30 s" {
		t.Errorf("Ext 1 Status = %+v", in)
	}
	if st.Info.Lines[0][0].State != "Idle" || st.Info.Lines[1][0].State != "Disabled" {
		t.Errorf("Call_State = %q / %q, want Idle / Disabled", st.Info.Lines[0][0].State, st.Info.Lines[1][0].State)
	}
	if c := st.Info.Counters; c.SIPMessagesSent != 2 || c.SIPMessagesRecv != 2 {
		t.Errorf("SIP counters = %+v, want 2 sent, 2 received", c)
	}
	bs := k.Bindings(t)
	if len(bs) != 1 || bs[0].UserAgent != "Linksys/SPA942-5.1.10" || !strings.Contains(bs[0].Contact, e.SIPAddr) {
		t.Fatalf("bindings = %+v, want one from %s with User-Agent Linksys/SPA942-5.1.10", bs, e.SIPAddr)
	}

	// The refresh runs on the phone's clock: 30 s of policy time, no waiting.
	clock.Advance(30 * time.Second)
	waitRegistration(t, events, 1, "Registered")
	if bs2 := k.Bindings(t); len(bs2) != 1 || bs2[0].CSeq <= bs[0].CSeq || bs2[0].CallID != bs[0].CallID {
		t.Errorf("after refresh: %+v, want the same Call-ID, a higher CSeq than %d", bs2, bs[0].CSeq)
	}
	if st := u.Status(); st.Info.Ext[0].LastRegistrationAt != "3/1/2026 09:00:30" {
		t.Errorf("Last_Registration_At = %q after the refresh", st.Info.Ext[0].LastRegistrationAt)
	}
}

func TestRegistrationFailures(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	t.Run("wrong password waits Reg_Retry_Long_Intvl", func(t *testing.T) {
		clock := NewManualClock(voiceStart)
		u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock,
			Defaults: sipDefaults(t, k, "Password_1_", "wrong", "Reg_Retry_Long_Intvl", "1200")}, nil)
		ev := waitRegistration(t, events, 1, "Failed")
		if ev.Data["code"] != 401 || ev.Data["next_in_seconds"] != int64(1200) {
			t.Errorf("registration event = %v, want 401 and the next try in 1200 s", ev.Data)
		}
		st := u.Status()
		if in := st.Info.Ext[0]; in.RegistrationState != "Failed" || in.NextRegistrationIn != "1200 s" ||
			in.LastRegistrationAt != "0/0/0 00:00:00" {
			t.Errorf("Ext 1 Status = %+v", in)
		}
		if st.Info.Lines[0][0].State != "No Service" {
			t.Errorf("Call_State = %q, want No Service", st.Info.Lines[0][0].State)
		}
		clock.Advance(1200 * time.Second)
		waitRegistration(t, events, 1, "Failed") // tried again, at the interval
	})
	t.Run("no answer waits Reg_Retry_Intvl", func(t *testing.T) {
		clock := NewManualClock(voiceStart)
		_, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock,
			Defaults: sipDefaults(t, k, "Proxy_1_", "127.0.0.1:9", "SIP_Timer_F", "0.3", "Reg_Retry_Intvl", "30")}, nil)
		ev := waitRegistration(t, events, 1, "Failed")
		if ev.Data["code"] != 0 || ev.Data["next_in_seconds"] != int64(30) {
			t.Errorf("registration event = %v, want no code and the next try in 30 s", ev.Data)
		}
	})
}

// TestRestartReregisters: profiles (applied as a resync applies them) change SIP_Port_1_, then
// Password_1_; each warm restart unregisters, rebinds and registers from the new snapshot
// (DECISIONS 12).
func TestRestartReregisters(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	clock := NewManualClock(voiceStart)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: sipDefaults(t, k)}, nil)
	waitRegistration(t, events, 1, "Registered")
	p := mustPhone(t, u)
	apply := func(profile string) {
		t.Helper()
		res, err := p.ApplyProfile(t.Context(), "resync", []byte("<flat-profile>"+profile+"</flat-profile>"))
		if err != nil || !res.Restart {
			t.Fatalf("ApplyProfile = %+v, %v; want a restart", res, err)
		}
		waitEvent(t, events, EventDone) // the restart
		waitRegistration(t, events, 1, "Registered")
	}

	port := strconv.Itoa(provtest.FreeUDPPort(t))
	apply("<SIP_Port_1_>" + port + "</SIP_Port_1_>")
	if e := u.Status().Extensions[0]; !strings.HasSuffix(e.SIPAddr, ":"+port) {
		t.Errorf("agent at %s after the restart, want port %s", e.SIPAddr, port)
	}
	if bs := k.Bindings(t); len(bs) != 1 || !strings.HasSuffix(bs[0].Contact, ":"+port) {
		t.Errorf("bindings = %+v, want only the new port's: the old one was unregistered", bs)
	}

	k.SetPassword(t, "1001", "changed") // the server's side of the same change
	apply("<Password_1_>changed</Password_1_>")
	if st := u.Status().Extensions[0]; st.Registration != "Registered" {
		t.Errorf("after the password change: %+v", st)
	}
}

func TestRebootUnregisters(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k)}, nil)
	waitRegistration(t, events, 1, "Registered")
	if _, err := mustPhone(t, u).RequestReboot(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, EventShutdown)
	waitEvent(t, events, EventBoot)
	// The unregistration ran before the phone came back; it registers again at boot.
	waitRegistration(t, events, 1, "Registered")
	if bs := k.Bindings(t); len(bs) != 1 {
		t.Errorf("bindings = %+v, want the one of the new boot", bs)
	}
}
