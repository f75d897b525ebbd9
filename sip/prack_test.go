package sip_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/sip"
)

// TestPRACKBetweenAgents: an agent with 100rel calls another; the callee's 180 is reliable,
// and its 200, decided at once, waits for the caller's PRACK (prack.go), so the call being
// answered proves the PRACK; the caller hears the 180 once however often it is retransmitted.
func TestPRACKBetweenAgents(t *testing.T) {
	callee := make(chan sip.Event, 16)
	caller := make(chan sip.Event, 16)
	b := newAgent(t, sip.Config{Ext: 2, UserID: "1002", Rel100: true, Supported: []string{"replaces", "100rel"},
		OnEvent: func(ev sip.Event) { callee <- ev }})
	a := newAgent(t, sip.Config{UserID: "1001", Rel100: true, Supported: []string{"replaces", "100rel"},
		OnEvent: func(ev sip.Event) { caller <- ev }})
	id, err := a.Dial(sip.DialRequest{To: "sip:1002@" + b.LocalAddr().String(), SDP: []byte("v=0\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	progress := 0
	deadline := time.After(10 * time.Second)
	for answered := false; !answered; {
		select {
		case ev := <-callee:
			if ic, ok := ev.(*sip.IncomingCall); ok {
				b.Ring(ic.ID)
				b.Answer(ic.ID, []byte("v=0\r\n"))
			}
		case ev := <-caller:
			switch ev := ev.(type) {
			case *sip.CallProgress:
				if ev.ID != id || ev.Code != 180 {
					t.Errorf("progress %+v", ev)
				}
				progress++
			case *sip.CallAnswered:
				answered = true
			case *sip.CallFailed:
				t.Fatalf("call failed: %+v", ev)
			}
		case <-deadline:
			t.Fatal("the call was never answered: the PRACK did not release the 200")
		}
	}
	if progress != 1 {
		t.Errorf("the caller heard the 180 %d times, want once", progress)
	}
	if err := a.Hangup(id); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-callee:
			if _, ok := ev.(*sip.CallEnded); ok {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the callee never heard the BYE")
		}
	}
}

// TestPRACKOff: without Rel100 an INVITE that requires 100rel is refused 420 with
// Unsupported: 100rel, and a PRACK outside any reliable 1xx gets 481 either way.
func TestPRACKOff(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("Rel100=%v", on), func(t *testing.T) {
			a := newAgent(t, sip.Config{UserID: "1001", Rel100: on, OnEvent: func(ev sip.Event) {}})
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			from := c.LocalAddr().String()
			inv := "INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";branch=z9hG4bK-p1\r\n" +
				"From: <sip:t@127.0.0.1>;tag=p1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: p1@127.0.0.1\r\n" +
				"CSeq: 1 INVITE\r\nContact: <sip:t@" + from + ">\r\nRequire: 100rel\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
			prack := "PRACK sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";branch=z9hG4bK-p2\r\n" +
				"From: <sip:t@127.0.0.1>;tag=p2\r\nTo: <sip:1001@127.0.0.1>;tag=nosuch\r\nCall-ID: p2@127.0.0.1\r\n" +
				"CSeq: 2 PRACK\r\nRAck: 1 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
			if !on {
				res := exchangeRaw(t, c, a, inv, "p1@127.0.0.1")
				if !strings.HasPrefix(res, "SIP/2.0 420") || !strings.Contains(res, "Unsupported: 100rel") {
					t.Errorf("INVITE requiring 100rel answered\n%s", res)
				}
			}
			if res := exchangeRaw(t, c, a, prack, "p2@127.0.0.1"); !strings.HasPrefix(res, "SIP/2.0 481") {
				t.Errorf("stray PRACK answered\n%s", res)
			}
		})
	}
}

// exchangeRaw sends msg to the agent and returns its final answer for callID.
func exchangeRaw(t *testing.T, c net.PacketConn, a *sip.Agent, msg, callID string) string {
	t.Helper()
	if _, err := c.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(a.LocalAddr())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no final answer for %s: %v", callID, err)
		}
		res := string(buf[:n])
		if strings.Contains(res, callID) && !strings.HasPrefix(res, "SIP/2.0 1") {
			return res
		}
	}
}
