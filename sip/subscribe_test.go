package sip_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// mwiAgent starts an agent of mailbox 5000 at server, reporting its events on the channel.
func mwiAgent(t *testing.T, server string) (*sip.Agent, <-chan sip.Event) {
	t.Helper()
	ch := make(chan sip.Event, 16)
	a := newAgent(t, sip.Config{UserID: "1001", MWIServer: server, MWIUser: "5000",
		OnEvent: func(ev sip.Event) { ch <- ev }})
	return a, ch
}

// nextMWI waits for the next message-summary the agent reports.
func nextMWI(t *testing.T, ch <-chan sip.Event) *sip.MessageWaiting {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		select {
		case ev := <-ch:
			if mw, ok := ev.(*sip.MessageWaiting); ok {
				return mw
			}
		case <-ctx.Done():
			t.Fatal("no message-summary NOTIFY reached the phone")
		}
	}
}

// TestSubscribeMWI: the message-summary subscription against a SIPp notifier: the first
// SUBSCRIBE (to sip:5000@server, Expires 2147483647, no To tag), its NOTIFY, the refresh in
// the dialog, and the unsubscription (RFC 3842, RFC 6665).
func TestSubscribeMWI(t *testing.T) {
	vm := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "mwi.xml", Service: "5000", Replace: map[string]string{"MAILBOX": "5000"}})
	a, ch := mwiAgent(t, vm.Addr)
	if tgt, _ := a.MWITarget(); tgt != "sip:5000@"+vm.Addr {
		t.Errorf("MWITarget = %s", tgt)
	}
	ctx := t.Context()
	sub, err := a.SubscribeMWI(ctx, 2147483647*time.Second)
	if err != nil {
		t.Fatalf("SubscribeMWI: %v", err)
	}
	if sub.Expires != 60*time.Second || !sub.New {
		t.Errorf("granted %+v, want 60 s, new", sub)
	}
	if mw := nextMWI(t, ch); !mw.Waiting || !mw.Subscribed || mw.New != 2 || mw.Old != 1 {
		t.Errorf("first NOTIFY = %+v, want waiting, subscribed, 2 new 1 old", mw)
	}
	sub, err = a.SubscribeMWI(ctx, 2147483647*time.Second)
	if err != nil || sub.New || sub.Expires != 60*time.Second {
		t.Fatalf("refresh = %+v, %v; want 60 s in the same subscription", sub, err)
	}
	if mw := nextMWI(t, ch); mw.Waiting || !mw.Subscribed {
		t.Errorf("second NOTIFY = %+v, want no message, subscribed", mw)
	}
	if sub, err = a.SubscribeMWI(ctx, 0); err != nil || sub.Expires != 0 {
		t.Fatalf("unsubscribe = %+v, %v", sub, err)
	}
	if res := vm.Wait(10 * time.Second); res.Err != nil {
		t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
}

// TestSubscribeMWIRefusals: a 489 is returned as such (the phone stops asking); a refresh
// answered 481 starts a new subscription outside the dialog at once.
func TestSubscribeMWIRefusals(t *testing.T) {
	t.Run("489", func(t *testing.T) {
		vm := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "mwi-refuse.xml", Replace: map[string]string{"CODE": "489"}})
		a, _ := mwiAgent(t, vm.Addr)
		_, err := a.SubscribeMWI(t.Context(), time.Hour)
		var re *sip.ResponseError
		if !errors.As(err, &re) || re.Code != 489 {
			t.Fatalf("SubscribeMWI = %v, want the 489", err)
		}
		if res := vm.Wait(10 * time.Second); res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
	})
	t.Run("481 to the refresh", func(t *testing.T) {
		vm := siptest.StartSIPp(t, siptest.SIPpRun{Scenario: "mwi-481.xml", Calls: 2})
		a, _ := mwiAgent(t, vm.Addr)
		if _, err := a.SubscribeMWI(t.Context(), time.Hour); err != nil {
			t.Fatal(err)
		}
		sub, err := a.SubscribeMWI(t.Context(), time.Hour) // 481, then a new subscription
		if err != nil || !sub.New || sub.Expires != 60*time.Second {
			t.Fatalf("refresh after 481 = %+v, %v; want a new subscription of 60 s", sub, err)
		}
		// The new subscription's dialog is SIPp's second call: ending it gets the 481 again,
		// which an unsubscription takes as the end.
		var re *sip.ResponseError
		if _, err := a.SubscribeMWI(t.Context(), 0); !errors.As(err, &re) || re.Code != 481 {
			t.Errorf("unsubscribe = %v, want the 481", err)
		}
		if res := vm.Wait(10 * time.Second); res.Err != nil {
			t.Fatalf("sipp: %v\n%s", res.Err, res.Output)
		}
	})
}
