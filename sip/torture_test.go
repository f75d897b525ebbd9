package sip_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// TestTorture sends RFC 4475-style messages (testdata/torture, written for this project) at
// a running agent: it never crashes, refuses each bad one with the right code (or drops what
// cannot be parsed at all), and the phone hears of nothing but the one valid call.
func TestTorture(t *testing.T) {
	var mu sync.Mutex
	var events []sip.Event
	var a *sip.Agent
	a = newAgent(t, sip.Config{Proxy: "spa900.test", UserID: "1001", Password: "secret1001",
		Allow: []string{"INVITE", "ACK", "BYE", "CANCEL", "NOTIFY", "INFO", "OPTIONS"},
		OnEvent: func(ev sip.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			if ic, ok := ev.(*sip.IncomingCall); ok {
				a.Reject(ic.ID, 486, "Busy Here")
			}
			if cr, ok := ev.(*sip.ControlRequest); ok {
				cr.Respond(200, "OK")
			}
		}})
	want := map[string]int{ // 0: dropped, no answer
		"valid-options.sip": 200, "valid-wsinv.sip": 486,
		"invalid-scheme.sip": 416, "invalid-cseqmethod.sip": 400, "invalid-noto.sip": 400,
		"invalid-badcl.sip": 0, "invalid-negcl.sip": 0, "invalid-badvia.sip": 0, "invalid-quote.sip": 0,
		"invalid-require.sip": 420, "invalid-body.sip": 415, "invalid-bye.sip": 481,
		"invalid-refer.sip": 405, "invalid-garbage.sip": 0, "invalid-version.sip": 0,
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "torture", "*.sip"))
	if len(files) != len(want) {
		t.Fatalf("%d torture files, %d expectations", len(files), len(want))
	}
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := net.UDPAddrFromAddrPort(a.LocalAddr())
	buf := make([]byte, 65536)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			msg, _ := os.ReadFile(f)
			msg = []byte(strings.ReplaceAll(string(msg), "127.0.0.1:5099", c.LocalAddr().String()))
			if _, err := c.WriteTo(msg, dst); err != nil {
				t.Fatal(err)
			}
			got := 0
			// The answer (if any) comes within a few milliseconds; a dropped message gets none
			// within the second the test grants.
			deadline := time.Now().Add(time.Second)
			for {
				c.SetReadDeadline(deadline)
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					break
				}
				resp := string(buf[:n])
				if id := callID(msg); id == "" || !strings.Contains(resp, id) {
					continue // a retransmission of an earlier answer
				}
				line, _, _ := strings.Cut(resp, "\r\n")
				var code int
				if _, err := fmt.Sscanf(line, "SIP/2.0 %d", &code); err == nil && code >= 200 {
					got = code
					break
				}
			}
			if got != want[name] {
				t.Errorf("answered %d, want %d", got, want[name])
			}
		})
	}
	// Still up, and only the valid INVITE reached the phone.
	if _, err := c.WriteTo(mustRead(t, "valid-options.sip", c.LocalAddr().String()), dst); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := c.ReadFrom(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("agent does not answer OPTIONS after the torture: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, ev := range events {
		switch ev.(type) {
		case *sip.IncomingCall, *sip.CallFailed:
		default:
			got = append(got, fmt.Sprintf("%T %+v", ev, ev))
		}
	}
	if len(got) != 0 {
		t.Errorf("events beyond the valid call: %v", got)
	}
}

func mustRead(t *testing.T, name, from string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "torture", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "127.0.0.1:5099", from))
}

// callID returns the Call-ID value of a raw message ("" if none).
func callID(msg []byte) string {
	for _, l := range strings.Split(string(msg), "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "call-id") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestTortureSIPp sends the torture messages that get an answer through SIPp, a peer of its
// own that checks the code: SIPp sends each (its own Call-ID and address put in) and expects
// the same answer as TestTorture. Messages with folded header lines stay with TestTorture's raw
// socket: SIPp trims the leading white space of every line it sends. The agent still answers
// after them all.
func TestTortureSIPp(t *testing.T) {
	// invalid-cseqmethod and invalid-noto stay with TestTorture too: SIPp cannot match an
	// answer whose CSeq method, or missing To, the message itself mangled to its request.
	want := map[string]int{
		"valid-options.sip": 200, "valid-wsinv.sip": 486,
		"invalid-scheme.sip": 416, "invalid-require.sip": 420, "invalid-body.sip": 415,
		"invalid-bye.sip": 481, "invalid-refer.sip": 405,
	}
	var a *sip.Agent
	events := make(chan sip.Event, 16)
	a = newAgent(t, sip.Config{Proxy: "spa900.test", UserID: "1001", Password: "secret1001", NotifyAuth: true,
		Allow: []string{"INVITE", "ACK", "BYE", "CANCEL", "NOTIFY", "INFO", "OPTIONS"},
		OnEvent: func(ev sip.Event) {
			select {
			case events <- ev:
			default:
			}
		}})
	ctx := t.Context()
	go func() {
		for {
			select {
			case ev := <-events:
				if ic, ok := ev.(*sip.IncomingCall); ok {
					a.Reject(ic.ID, 486, "Busy Here")
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	sent := 0
	for name, code := range want {
		msg := string(mustRead(t, name, "[local_ip]:[local_port]"))
		lines := strings.Split(strings.TrimRight(msg, "\r\n"), "\r\n")
		folded := false
		for i, l := range lines {
			if k, _, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "call-id") {
				lines[i] = "Call-ID: [call_id]"
			}
			folded = folded || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")
		}
		if folded {
			continue
		}
		sent++
		t.Run(name, func(t *testing.T) {
			scen := fmt.Sprintf(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="torture %s">
  <send><![CDATA[
%s

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="%d"/>
</scenario>
`, name, strings.Join(lines, "\n"), code)
			path := filepath.Join(t.TempDir(), name+".xml")
			if err := os.WriteFile(path, []byte(scen), 0o644); err != nil {
				t.Fatal(err)
			}
			res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: path, Target: a.LocalAddr().String(), Timeout: 5 * time.Second})
			if res.Err != nil {
				t.Errorf("%s, want %d: %v\n%s", name, code, res.Err, res.Output)
			}
		})
	}
	if sent < 5 {
		t.Errorf("only %d messages went through SIPp", sent)
	}
	res := siptest.RunSIPp(t, siptest.SIPpRun{Scenario: "notify-expect.xml", Target: a.LocalAddr().String(),
		Service: "1001", Keys: map[string]string{"event": "resync"}, Replace: map[string]string{"CODE": "401"}})
	if res.Err != nil {
		t.Errorf("the agent does not answer after the torture: %v\n%s", res.Err, res.Output)
	}
}
