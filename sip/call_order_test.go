package sip_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spa900/spa900/sip"
)

// TestInDialogRequestAfterAnswer: a caller's BYE, REFER or re-INVITE that follows its ACK at
// once (or stands for an ACK that was lost) is reported after the call's CallAnswered, never
// before: sipgo hands the ACK and the request to goroutines of their own (call_order.go).
// Without the ordering a BYE whose ACK was lost ended a call the phone never saw connected,
// and the CallAnswered came after the CallEnded; a BYE right behind its ACK did so now and
// then (and REFER and re-INVITE alike).
func TestInDialogRequestAfterAnswer(t *testing.T) {
	for i, tc := range []struct {
		name   string
		method string
		ack    bool
		calls  int // the race of ACK and request is tried this often
	}{
		{"ACK then BYE", "BYE", true, 20},
		{"BYE, its ACK lost", "BYE", false, 1},
		{"ACK then REFER", "REFER", true, 20},
		{"REFER, its ACK lost", "REFER", false, 1},
		{"ACK then re-INVITE", "INVITE", true, 20},
		{"re-INVITE, its ACK lost", "INVITE", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, heard, c := rawAgentPeer(t, 64)
			for n := range tc.calls {
				orderAfterAnswer(t, a, c, heard, fmt.Sprintf("order%d-%d", i, n), tc.method, tc.ack)
			}
		})
	}
}

// orderAfterAnswer makes one call from c to a, answers it, sends the ACK (if ack) and method
// in one go, and checks the order of what a reports.
func orderAfterAnswer(t *testing.T, a *sip.Agent, c net.PacketConn, heard <-chan sip.Event, id, method string, ack bool) {
	t.Helper()
	from := c.LocalAddr().String()
	agent := net.UDPAddrFromAddrPort(a.LocalAddr())
	send := func(msg string) {
		t.Helper()
		if _, err := c.WriteTo([]byte(msg), agent); err != nil {
			t.Fatal(err)
		}
	}
	head := func(method string, cseq int, branch, toTag string) string {
		to := "<sip:1001@127.0.0.1>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return method + " sip:1001@" + agent.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";branch=z9hG4bK-" + branch + "\r\n" +
			"From: <sip:t@127.0.0.1>;tag=f" + id + "\r\nTo: " + to + "\r\nCall-ID: " + id + "\r\n" +
			fmt.Sprintf("CSeq: %d %s\r\n", cseq, method) + "Contact: <sip:t@" + from + ">\r\nMax-Forwards: 70\r\n"
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	var next func(what string) sip.Event
	next = func(what string) sip.Event {
		t.Helper()
		select {
		case ev := <-heard:
			if callOf(ev) != id {
				return next(what) // an earlier call's (the 2xx of its re-INVITE, never ACKed)
			}
			return ev
		case <-deadline.C:
			t.Fatalf("%s: %s not reported", id, what)
			return nil
		}
	}

	send(head("INVITE", 1, id+"i", "") + "Content-Length: 0\r\n\r\n")
	if ic, ok := next("the call").(*sip.IncomingCall); !ok || ic.ID != id {
		t.Fatalf("%s: first event %T %+v, want the IncomingCall", id, ic, ic)
	}
	if err := a.Answer(id, []byte("v=0\r\n")); err != nil {
		t.Fatal(err)
	}
	toTag := ""
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for toTag == "" {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: no 200 for the INVITE: %v", id, err)
		}
		res := string(buf[:n])
		if !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "Call-ID: "+id+"\r\n") {
			continue // the 100, or an answer of an earlier call
		}
		_, rest, _ := strings.Cut(res, "\r\nTo: ")
		line, _, _ := strings.Cut(rest, "\r\n")
		_, toTag, _ = strings.Cut(line, ";tag=")
		if toTag == "" {
			t.Fatalf("%s: 200 without a To tag\n%s", id, res)
		}
	}
	var msgs []string
	if ack {
		msgs = append(msgs, head("ACK", 1, id+"a", toTag)+"Content-Length: 0\r\n\r\n")
	}
	switch method {
	case "BYE":
		msgs = append(msgs, head("BYE", 2, id+"b", toTag)+"Content-Length: 0\r\n\r\n")
	case "REFER":
		msgs = append(msgs, head("REFER", 2, id+"r", toTag)+"Refer-To: <sip:1003@127.0.0.1>\r\nContent-Length: 0\r\n\r\n")
	default:
		msgs = append(msgs, head("INVITE", 2, id+"r", toTag)+"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
	}
	for _, m := range msgs { // back to back: the agent's goroutines race for them
		send(m)
	}

	answered := false
	for {
		switch ev := next("the " + method).(type) {
		case *sip.CallAnswered:
			if answered {
				t.Fatalf("%s: CallAnswered twice", id)
			}
			answered = true
		case *sip.CallEnded:
			if method != "BYE" {
				t.Fatalf("%s: %+v, want the %s", id, ev, method)
			}
			if !answered {
				t.Fatalf("%s: the call was reported ended (%+v) before it was reported connected", id, ev)
			}
			return
		case *sip.Refer:
			ev.Accept()
			if method != "REFER" {
				t.Fatalf("%s: %+v, want the %s", id, ev, method)
			}
			if !answered {
				t.Fatalf("%s: the REFER was reported before the call was connected", id)
			}
			return // the call stays up until the agent closes
		case *sip.CallReinvite:
			ev.Accept([]byte("v=0\r\n"))
			if method != "INVITE" {
				t.Fatalf("%s: %+v, want the %s", id, ev, method)
			}
			if !answered {
				t.Fatalf("%s: the re-INVITE was reported before the call was connected", id)
			}
			if !ack {
				staleAck(t, c, id, head("ACK", 1, id+"a", toTag)+"Content-Length: 0\r\n\r\n", send)
			}
			return
		default:
			t.Fatalf("%s: unexpected %T %+v", id, ev, ev)
		}
	}
}

// callOf is the call an event of orderAfterAnswer's is about.
func callOf(ev sip.Event) string {
	switch ev := ev.(type) {
	case *sip.IncomingCall:
		return ev.ID
	case *sip.CallAnswered:
		return ev.ID
	case *sip.CallEnded:
		return ev.ID
	case *sip.Refer:
		return ev.ID
	case *sip.CallReinvite:
		return ev.ID
	}
	return ""
}

// staleAck sends the late ACK of a call's first 2xx after its re-INVITE was answered: it
// does not acknowledge the re-INVITE's 2xx, which is retransmitted until its own ACK.
func staleAck(t *testing.T, c net.PacketConn, id, ack string, send func(string)) {
	t.Helper()
	send(ack)
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for seen := 0; seen < 2; {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: the re-INVITE's 2xx was not retransmitted after the late ACK of the first: %v", id, err)
		}
		if res := string(buf[:n]); strings.HasPrefix(res, "SIP/2.0 200") && strings.Contains(res, "Call-ID: "+id+"\r\n") && strings.Contains(res, "CSeq: 2 INVITE") {
			seen++
		}
	}
}

// TestCancelRightAfterInvite: a CANCEL sent as soon as the 100 Trying came ends the offered
// call as cancelled by the caller. The CANCEL's callback was registered after the 100 went out: a
// CANCEL taken before it called nothing, and the call ended only with its transaction (once
// the 487 had its ACK, or after Timer H).
func TestCancelRightAfterInvite(t *testing.T) {
	a, heard, c := rawAgentPeer(t, 64)
	from := c.LocalAddr().String()
	agent := net.UDPAddrFromAddrPort(a.LocalAddr())
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for n := range 20 {
		id := fmt.Sprintf("cancel-%d", n)
		head := func(method string) string {
			return method + " sip:1001@" + agent.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";branch=z9hG4bK-" + id + "\r\n" +
				"From: <sip:t@127.0.0.1>;tag=f" + id + "\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: " + id + "\r\n" +
				"CSeq: 1 " + method + "\r\nContact: <sip:t@" + from + ">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		}
		if _, err := c.WriteTo([]byte(head("INVITE")), agent); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65536)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for trying := false; !trying; { // a caller CANCELs once it has a provisional answer
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%s: no 100 Trying: %v", id, err)
			}
			trying = strings.HasPrefix(string(buf[:n]), "SIP/2.0 100") && strings.Contains(string(buf[:n]), "Call-ID: "+id+"\r\n")
		}
		if _, err := c.WriteTo([]byte(head("CANCEL")), agent); err != nil {
			t.Fatal(err)
		}
		for ended := false; !ended; {
			select {
			case ev := <-heard:
				switch ev := ev.(type) {
				case *sip.IncomingCall:
				case *sip.CallFailed:
					if ev.ID != id || ev.Code != 487 || ev.Reason != "cancelled by the caller" {
						t.Fatalf("%s: %+v, want it cancelled by the caller", id, ev)
					}
					ended = true
				default:
					t.Fatalf("%s: unexpected %T %+v", id, ev, ev)
				}
			case <-deadline.C:
				t.Fatalf("%s: the cancelled call was not reported ended", id)
			}
		}
	}
}

// TestByeRightAfterOurAck: the far end of the phone's call hangs up as soon as it has the ACK
// of its 2xx; the call is reported connected, then ended, each once (call_order.go).
func TestByeRightAfterOurAck(t *testing.T) {
	a, heard, c := rawAgentPeer(t, 64)
	buf := make([]byte, 65536)
	read := func(want string) (string, net.Addr) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no %s: %v", want, err)
			}
			if msg := string(buf[:n]); strings.HasPrefix(msg, want+" ") {
				return msg, from
			}
		}
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for n := range 20 {
		id, err := a.Dial(sip.DialRequest{To: "sip:1002@" + c.LocalAddr().String(), SDP: []byte("v=0\r\n")})
		if err != nil {
			t.Fatal(err)
		}
		inv, from := read("INVITE")
		tag := fmt.Sprintf("u%d", n)
		res := "SIP/2.0 200 OK\r\n" + headerLines(inv, "Via") + "From: " + header(inv, "From") + "\r\n" +
			"To: " + header(inv, "To") + ";tag=" + tag + "\r\nCall-ID: " + header(inv, "Call-ID") + "\r\n" +
			"CSeq: " + header(inv, "CSeq") + "\r\nContact: <sip:1002@" + c.LocalAddr().String() + ">\r\n" +
			"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
		if _, err := c.WriteTo([]byte(res), from); err != nil {
			t.Fatal(err)
		}
		read("ACK")
		contact := strings.Trim(header(inv, "Contact"), "<>")
		if i := strings.IndexByte(contact, '>'); i >= 0 {
			contact = contact[:i]
		}
		bye := "BYE " + contact + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bK-bye" + tag + "\r\n" +
			"From: " + header(inv, "To") + ";tag=" + tag + "\r\nTo: " + header(inv, "From") + "\r\nCall-ID: " + header(inv, "Call-ID") + "\r\n" +
			"CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.WriteTo([]byte(bye), from); err != nil {
			t.Fatal(err)
		}
		answered := false
		for ended := false; !ended; {
			select {
			case ev := <-heard:
				switch ev := ev.(type) {
				case *sip.CallAnswered:
					if ev.ID != id || answered {
						t.Fatalf("%s: %+v (answered before: %v)", id, ev, answered)
					}
					answered = true
				case *sip.CallEnded:
					if ev.ID != id || !answered {
						t.Fatalf("%s: %+v before the call was reported connected", id, ev)
					}
					ended = true
				}
			case <-deadline.C:
				t.Fatalf("%s: the call was not reported ended", id)
			}
		}
	}
}

// header is the value of the first header name of a raw message.
func header(msg, name string) string {
	for _, l := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// headerLines are the lines of header name of a raw message, in order, each with its CRLF.
func headerLines(msg, name string) string {
	var out strings.Builder
	for _, l := range strings.Split(msg, "\r\n") {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			out.WriteString(l + "\r\n")
		}
	}
	return out.String()
}

// TestByeAnsweredAfterCallEnded: the 200 to a caller's BYE leaves only once the call is
// reported ended. A caller that places its next call as soon as it has that 200 (SIPp's
// -l 1, a PBX paging again) must find the phone without the old call: when the 200 went
// first, the next INVITE's goroutine could report before the BYE's, and the phone rang the
// page as a call waiting instead of answering it (TestCallSIPpHangsUpOnTheAnswer hung so).
// The agent's report of CallEnded is held while the test looks for the 200: a 200 sent
// before the report is queued at the test's socket by then (UDP on loopback queues a datagram
// at the receiver before sendto returns).
func TestByeAnsweredAfterCallEnded(t *testing.T) {
	heard := make(chan sip.Event, 16)
	gate := make(chan struct{})
	var release sync.Once
	a := newAgent(t, sip.Config{UserID: "1001", OnEvent: func(ev sip.Event) {
		heard <- ev
		if _, ok := ev.(*sip.CallEnded); ok {
			<-gate
		}
	}})
	t.Cleanup(func() { release.Do(func() { close(gate) }) }) // before the agent closes
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	from, agent := c.LocalAddr().String(), net.UDPAddrFromAddrPort(a.LocalAddr())
	const id = "bye-order"
	head := func(method string, cseq int, toTag string) string {
		to := "<sip:1001@127.0.0.1>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return method + " sip:1001@" + agent.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + from +
			fmt.Sprintf(";branch=z9hG4bK-%s%d\r\n", strings.ToLower(method), cseq) +
			"From: <sip:t@127.0.0.1>;tag=f1\r\nTo: " + to + "\r\nCall-ID: " + id + "\r\n" +
			fmt.Sprintf("CSeq: %d %s\r\n", cseq, method) + "Contact: <sip:t@" + from + ">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	}
	send := func(msg string) {
		t.Helper()
		if _, err := c.WriteTo([]byte(msg), agent); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	wait := func(want string) sip.Event {
		t.Helper()
		select {
		case ev := <-heard:
			return ev
		case <-deadline.C:
			t.Fatalf("%s not reported", want)
			return nil
		}
	}
	buf := make([]byte, 65536)
	// response reads until a response of cseq (e.g. "1 INVITE") with code 200, by until.
	response := func(cseq string, until time.Time) (string, error) {
		c.SetReadDeadline(until)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return "", err
			}
			if msg := string(buf[:n]); strings.HasPrefix(msg, "SIP/2.0 200") && strings.Contains(msg, "CSeq: "+cseq+"\r\n") {
				return msg, nil
			}
		}
	}

	send(head("INVITE", 1, ""))
	if ev, ok := wait("the call").(*sip.IncomingCall); !ok {
		t.Fatalf("first event %T %+v, want the IncomingCall", ev, ev)
	}
	if err := a.Answer(id, []byte("v=0\r\n")); err != nil {
		t.Fatal(err)
	}
	res, err := response("1 INVITE", time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatalf("no 200 for the INVITE: %v", err)
	}
	_, rest, _ := strings.Cut(res, "\r\nTo: ")
	line, _, _ := strings.Cut(rest, "\r\n")
	_, toTag, _ := strings.Cut(line, ";tag=")
	send(head("ACK", 1, toTag))
	if ev, ok := wait("the answer").(*sip.CallAnswered); !ok {
		t.Fatalf("event %T %+v, want CallAnswered", ev, ev)
	}
	send(head("BYE", 2, toTag))
	if ev, ok := wait("the end").(*sip.CallEnded); !ok {
		t.Fatalf("event %T %+v, want CallEnded", ev, ev)
	}
	// A deadline already past fails the read before it is tried; a short one reads what is
	// queued. While the report is held, no wait is long enough for a 200 sent after it.
	if _, err := response("2 BYE", time.Now().Add(100*time.Millisecond)); err == nil {
		t.Fatal("the 200 to the BYE was sent before the call was reported ended")
	}
	release.Do(func() { close(gate) })
	if _, err := response("2 BYE", time.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("no 200 for the BYE: %v", err)
	}
}
