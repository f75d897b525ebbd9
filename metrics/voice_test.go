package metrics

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// TestVoiceMetrics registers two phones of one fleet to Kamailio, makes one call the other,
// and reads the SIP and media series: registrations by state and attempts, the call by
// state while it rings and while it is up, SIP messages by kind, RTP packets of the call in
// progress, then after the hang-up the sessions ended and RTP counters that did not go down.
func TestVoiceMetrics(t *testing.T) {
	k := siptest.StartKamailio(t, siptest.KamailioOptions{})
	shared := new(phone.Counters)
	var units []*phone.Unit
	var events []<-chan phone.Event
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 2)
	for i, user := range []string{"1001", "1002"} {
		u, err := phone.NewUnit(phone.Options{
			Flash: config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json")),
			MAC:   fmt.Sprintf("00:0e:08:00:02:%02x", i+1), IP: "127.0.0.1", Counters: shared,
			Logger: testlog.New(t),
			Defaults: []config.Change{
				config.Set(config.ResyncOnReset, "No"),
				config.Set(config.ExtName(config.Proxy, 1), k.Addr),
				config.Set(config.ExtName(config.UserID, 1), user),
				config.Set(config.ExtName(config.Password, 1), "secret"+user),
				config.Set(config.ExtName(config.SIPPort, 1), strconv.Itoa(provtest.FreeUDPPort(t))),
				config.Set(config.ExtName(config.LineEnable, 2), "No"),
				config.Set(config.ExtName(config.LineEnable, 3), "No"),
				config.Set(config.ExtName(config.LineEnable, 4), "No"),
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
		events = append(events, u.Bus().Subscribe(ctx, 0))
		go func() { done <- u.Run(ctx) }()
	}
	t.Cleanup(func() { cancel(); <-done; <-done })
	for _, ch := range events {
		waitEvent(t, ch, func(e phone.Event) bool { return e.Kind == phone.EventRegistration && e.Data["state"] == "Registered" })
	}
	reg := Registry(New(Options{Units: units}))
	scrape := func() map[string]float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		return index(fams)
	}
	expect := func(m map[string]float64, series string, ok func(float64) bool, want string) {
		t.Helper()
		if v, found := m[series]; !found || !ok(v) {
			t.Errorf("%s = %v (found %v), want %s", series, v, found, want)
		}
	}
	eq := func(w float64) func(float64) bool { return func(v float64) bool { return v == w } }
	atLeast := func(w float64) func(float64) bool { return func(v float64) bool { return v >= w } }

	m := scrape()
	expect(m, `spa900_registrations{state="registered"}`, eq(2), "2")
	expect(m, `spa900_registrations{state="failed"}`, eq(0), "0")
	expect(m, `spa900_registration_attempts_total{result="registered"}`, eq(2), "2")
	// Each REGISTER was challenged once (401) and accepted (200).
	expect(m, `spa900_sip_messages_total{direction="sent",kind="REGISTER"}`, eq(4), "4")
	expect(m, `spa900_sip_messages_total{direction="received",kind="4xx"}`, atLeast(2), "≥ 2")
	expect(m, `spa900_sip_messages_total{direction="received",kind="2xx"}`, atLeast(2), "≥ 2")

	pa, err := units[0].Phone()
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := units[1].Phone()
	call, err := pa.Dial(ctx, 1, "1002", false)
	if err != nil {
		t.Fatal(err)
	}
	ring := waitEvent(t, events[1], func(e phone.Event) bool { return e.Kind == phone.EventCall && e.Data["state"] == phone.CallRinging })
	m = scrape()
	expect(m, `spa900_calls{state="ringing"}`, eq(1), "1")
	expect(m, `spa900_calls_total{direction="outbound"}`, eq(1), "1")
	expect(m, `spa900_calls_total{direction="inbound"}`, eq(1), "1")
	if _, err := pb.Answer(ctx, ring.Data["call"].(string)); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events[0], func(e phone.Event) bool {
		return e.Kind == phone.EventCall && e.Data["call"] == call.ID && e.Data["state"] == phone.CallConnected
	})
	// Both ends send 50 packets a second: wait for the counters of the calls in progress.
	deadline := time.Now().Add(10 * time.Second)
	for m = scrape(); m[`spa900_rtp_packets_total{direction="received"}`] < 20; m = scrape() {
		if time.Now().After(deadline) {
			t.Fatalf("no RTP counted in a call: %v", m[`spa900_rtp_packets_total{direction="received"}`])
		}
		time.Sleep(20 * time.Millisecond) // packets have no event of their own
	}
	expect(m, `spa900_calls{state="connected"}`, eq(2), "2")
	expect(m, `spa900_calls{state="ringing"}`, eq(0), "0")
	expect(m, `spa900_sip_messages_total{direction="sent",kind="INVITE"}`, atLeast(1), "≥ 1")
	expect(m, `spa900_rtp_sessions_ended_total`, eq(0), "0")
	sentLive := m[`spa900_rtp_packets_total{direction="sent"}`]

	if _, err := pa.Hangup(ctx, call.ID); err != nil {
		t.Fatal(err)
	}
	for _, ch := range events {
		waitEvent(t, ch, func(e phone.Event) bool { return e.Kind == phone.EventCall && e.Data["state"] == "Ended" })
	}
	m = scrape()
	expect(m, `spa900_calls{state="connected"}`, eq(0), "0")
	expect(m, `spa900_rtp_sessions_ended_total`, eq(2), "2")
	expect(m, `spa900_rtp_packets_total{direction="sent"}`, atLeast(sentLive), fmt.Sprintf("≥ %v (never down)", sentLive))
	expect(m, `spa900_rtp_packets_lost_total`, eq(0), "0 on loopback")
	expect(m, `spa900_sip_messages_total{direction="sent",kind="BYE"}`, eq(1), "1")
}

func waitEvent(t *testing.T, ch <-chan phone.Event, ok func(phone.Event) bool) phone.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for {
		select {
		case e, open := <-ch:
			if !open {
				t.Fatal("event stream closed")
			}
			if ok(e) {
				return e
			}
		case <-ctx.Done():
			t.Fatal("timed out waiting for an event")
		}
	}
}
