package phone

import (
	"math"
	"testing"

	"github.com/spa900/spa900/sip/siptest"
)

// phonePair starts two phones registered to k as 1001 (with setsA) and 1002 (with setsB).
func phonePair(t *testing.T, k *siptest.Kamailio, setsA, setsB []string) (a, b *Unit, ea, eb <-chan Event) {
	t.Helper()
	a, ea = startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, setsA...)}, nil)
	sets := append([]string{"User_ID_1_", "1002", "Password_1_", "secret1002", "Display_Name_1_", "Bob"}, setsB...)
	b, eb = startUnit(t, Options{IP: "127.0.0.1", Clock: NewManualClock(voiceStart), Defaults: sipDefaults(t, k, sets...)}, nil)
	waitRegistration(t, ea, 1, "Registered")
	waitRegistration(t, eb, 1, "Registered")
	return a, b, ea, eb
}

// TestMediaLoopbackCalls: a call dialled with Media_Loopback_Code (*03) asks the far phone for
// RFC 6849 loopback. Accept_Media_Loopback_Request automatic answers at once and mirrors (the
// source hears its own tone back, the mirror's Info shows Media_Loopback Yes); manual rings
// and mirrors once answered; never refuses with 486. Media_Loopback_Mode mirror makes the
// caller the mirror (the answering phone is the source); packet loopback reflects packets.
func TestMediaLoopbackCalls(t *testing.T) {
	tests := []struct {
		name         string
		setsA, setsB []string
		ring, refuse bool
		callerMirror bool
	}{
		{name: "automatic media", setsB: []string{"Accept_Media_Loopback_Request", "automatic"}},
		{name: "automatic packet", setsA: []string{"Media_Loopback_Type", "packet"}, setsB: []string{"Accept_Media_Loopback_Request", "automatic"}},
		{name: "manual", setsB: []string{"Accept_Media_Loopback_Request", "manual"}, ring: true},
		{name: "never", setsB: []string{"Accept_Media_Loopback_Request", "never"}, refuse: true},
		{name: "caller mirrors", setsA: []string{"Media_Loopback_Mode", "mirror"}, setsB: []string{"Accept_Media_Loopback_Request", "automatic"}, callerMirror: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A registrar of its own: a binding left by the previous case's phone would fork
			// the call to a phone that is gone.
			k := siptest.StartKamailio(t, siptest.KamailioOptions{})
			ua, ub, ea, eb := phonePair(t, k, tt.setsA, tt.setsB)
			pa, pb := mustPhone(t, ua), mustPhone(t, ub)
			ctx := t.Context()
			call, err := pa.Dial(ctx, 1, "*031002", false)
			if err != nil {
				t.Fatal(err)
			}
			if tt.refuse {
				ev := waitCall(t, ea, call.ID, "Ended")
				if code, _ := ev.Data["code"].(int); code != 486 {
					t.Errorf("ended %v, want 486", ev.Data)
				}
				return
			}
			bid := waitCall(t, eb, "", CallRinging).Data["call"].(string)
			if tt.ring {
				if _, err := pb.Answer(ctx, bid); err != nil {
					t.Fatal(err)
				}
			}
			waitCall(t, ea, call.ID, CallConnected)
			waitCall(t, eb, bid, CallConnected)
			// The source plays; what the mirror sends back is the source's own tone.
			src, srcEvents, srcCall, mirror := pa, ea, call.ID, ub
			if tt.callerMirror {
				src, srcEvents, srcCall, mirror = pb, eb, bid, ua
			}
			if _, err := src.CallPlay(ctx, srcCall, PlayRequest{Tone: "1000"}); err != nil {
				t.Fatal(err)
			}
			waitMediaEvent(t, srcEvents, EventAudio, func(e Event) bool {
				f, _ := e.Data["freq_hz"].(float64)
				return e.Data["call"] == srcCall && e.Data["direction"] == "rx" && math.Abs(f-1000) < 10
			})
			if got := mirror.Status().Info.Lines[0][0].MediaLoopback; got != "Yes" {
				t.Errorf("mirror's Media_Loopback = %q, want Yes", got)
			}
			pa.Hangup(ctx, call.ID)
			waitCall(t, ea, call.ID, "Ended")
		})
	}
}
