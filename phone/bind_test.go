package phone

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

// waitExtension reads events until extension ext's socket reports in or out of service.
func waitExtension(t *testing.T, events <-chan Event, ext int, inService bool) Event {
	t.Helper()
	for {
		ev := waitEvent(t, events, EventExtension)
		if ev.Data["ext"] == ext && ev.Data["in_service"] == inService {
			return ev
		}
	}
}

// TestExtensionBindsWhenPortIsFree: another program holds SIP_Port_1_. Extension 1 goes out
// of service with the reason in its status and tries again every Reg_Retry_Intvl on the
// phone's clock (not before: an Advance short of it tries nothing), while extension 2 and the
// phone serve; once the port is free, the next attempt binds it and the extension registers.
func TestExtensionBindsWhenPortIsFree(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	held, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.LocalAddr().(*net.UDPAddr).Port
	clock := NewManualClock(voiceStart)
	u, events := startUnit(t, Options{IP: "127.0.0.1", Clock: clock, Defaults: sipDefaults(t, k,
		"SIP_Port_1_", strconv.Itoa(port), "Reg_Retry_Intvl", "45", "Line_Enable_2_", "Yes")}, nil)

	ev := waitExtension(t, events, 1, false)
	if ev.Data["attempt"] != 1 || ev.Data["next_in_seconds"] != int64(45) ||
		!strings.Contains(ev.Data["error"].(string), "address already in use") {
		t.Errorf("extension event %v, want attempt 1, the next in 45 s, and the port taken", ev.Data)
	}
	st := u.Status()
	e1, e2 := st.Extensions[0], st.Extensions[1]
	if e1.SIPAddr != "" || !strings.Contains(e1.LastError, "address already in use") || e1.Registration != "Failed" ||
		e1.NextBind == nil || !e1.NextBind.Equal(voiceStart.Add(45*time.Second)) {
		t.Errorf("extension 1 = %+v, want out of service, the port's error, Failed and the next bind at +45 s", e1)
	}
	if e2.SIPAddr == "" || e2.LastError != "" {
		t.Errorf("extension 2 = %+v, want in service", e2)
	}

	// Short of the interval nothing is tried; at it, the port still held, the second attempt
	// fails and the third is one interval later (no Reg_Retry_Intvl_Cap: no doubling).
	clock.Advance(44 * time.Second)
	clock.Advance(time.Second)
	ev = waitExtension(t, events, 1, false)
	if ev.Data["attempt"] != 2 || ev.Data["next_in_seconds"] != int64(45) {
		t.Errorf("extension event %v, want attempt 2 and the next in 45 s", ev.Data)
	}
	if e := u.Status().Extensions[0]; e.NextBind == nil || !e.NextBind.Equal(voiceStart.Add(90*time.Second)) {
		t.Errorf("extension 1's next bind %v, want +90 s", e.NextBind)
	}

	held.Close()
	clock.Advance(45 * time.Second)
	ev = waitExtension(t, events, 1, true)
	if want := "127.0.0.1:" + strconv.Itoa(port); ev.Data["addr"] != want {
		t.Errorf("extension event %v, want in service at %s", ev.Data, want)
	}
	waitRegistration(t, events, 1, "Registered")
	if e := u.Status().Extensions[0]; e.LastError != "" || e.NextBind != nil || !strings.HasSuffix(e.SIPAddr, ":"+strconv.Itoa(port)) {
		t.Errorf("extension 1 = %+v, want in service on port %d", e, port)
	}
}
