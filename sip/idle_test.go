package sip_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"
	"github.com/spa900/spa900/sip"
)

// TestIdleLineAnswersFirstDatagram: an extension without a proxy builds no SIP stack while
// nothing reaches it, and answers the first request at once, even one that arrived before it
// began serving (its socket is peeked before the goroutine parks).
func TestIdleLineAnswersFirstDatagram(t *testing.T) {
	a, err := sip.NewAgent(sip.Config{Ext: 1, IP: netip.MustParseAddr("127.0.0.1"), UserID: "1001",
		UserAgent: "Linksys/SPA942-5.1.10", Allow: []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"}, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	agent := net.UDPAddrFromAddrPort(a.LocalAddr())
	options := func(id string) {
		t.Helper()
		from := c.LocalAddr().String()
		msg := "OPTIONS sip:1001@" + agent.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + from + ";branch=z9hG4bK-" + id + "\r\n" +
			"From: <sip:t@127.0.0.1>;tag=f" + id + "\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: " + id + "\r\n" +
			"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.WriteTo([]byte(msg), agent); err != nil {
			t.Fatal(err)
		}
	}
	answered := func(id string) {
		t.Helper()
		buf := make([]byte, 65536)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s not answered: %v", id, err)
		}
		if msg := string(buf[:n]); !strings.HasPrefix(msg, "SIP/2.0 200") || header(msg, "Call-ID") != id || header(msg, "Allow") == "" {
			t.Fatalf("%s answered:\n%s", id, msg)
		}
	}
	options("before-run") // queued in the socket before Run waits on it
	if a.StackBuilt() {
		t.Fatal("stack built before any message")
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	answered("before-run")
	if !a.StackBuilt() {
		t.Fatal("answered without a stack")
	}
	options("second")
	answered("second")
	a.Close()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestIdleLineReadsAnswersToItsFirstRequest: an extension whose first message is one it
// sends (a registration) builds its stack then and reads the answers: its idle wait hands
// the socket to the reader.
func TestIdleLineReadsAnswersToItsFirstRequest(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := newAgent(t, sip.Config{UserID: "1001", Proxy: c.LocalAddr().String()})
	if a.StackBuilt() {
		t.Fatal("stack built before any message")
	}
	registerOnce(t, a, c)
}

// idleWatch returns a watch for the test, closed at its end (after its agents: cleanups run
// last first).
func idleWatch(t *testing.T) *sip.IdleWatch {
	t.Helper()
	w, err := sip.NewIdleWatch()
	if err != nil {
		if runtime.GOOS == "linux" {
			t.Fatal(err)
		}
		t.Skipf("no idle watch here: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// startWatched starts an agent for cfg in w with Start; ended receives what it ended with.
func startWatched(t *testing.T, w *sip.IdleWatch, cfg sip.Config) (a *sip.Agent, ended chan error) {
	t.Helper()
	cfg.IP, cfg.Idle, cfg.Logger = netip.MustParseAddr("127.0.0.1"), w, testlog.New(t)
	if cfg.Ext == 0 {
		cfg.Ext = 1
	}
	cfg.UserAgent, cfg.TimerF = "Linksys/SPA942-5.1.10", 4*time.Second
	a, err := sip.NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ended = make(chan error, 2)
	a.Start(func(err error) { ended <- err })
	t.Cleanup(func() { a.Close() })
	return a, ended
}

// TestIdleWatchAnswersFirstDatagrams: extensions waiting in one watch answer their first
// requests at once, each served on its own from then on, and each says once that it ended
// when closed, whether it had heard anything or not.
func TestIdleWatchAnswersFirstDatagrams(t *testing.T) {
	w := idleWatch(t)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 20
	agents := make([]*sip.Agent, n)
	ends := make([]chan error, n)
	for i := range agents {
		agents[i], ends[i] = startWatched(t, w, sip.Config{UserID: fmt.Sprint(1000 + i), Allow: []string{"INVITE", "OPTIONS"}})
	}
	buf := make([]byte, 65536)
	for round := range 2 {
		for i, a := range agents[:n/2] { // the other half hears nothing
			id := fmt.Sprintf("r%d-%d", round, i)
			to := net.UDPAddrFromAddrPort(a.LocalAddr())
			msg := "OPTIONS sip:x@" + to.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bK-" + id + "\r\n" +
				"From: <sip:t@127.0.0.1>;tag=f" + id + "\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: " + id + "\r\n" +
				"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
			if _, err := c.WriteTo([]byte(msg), to); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			k, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%s not answered: %v", id, err)
			}
			if got := string(buf[:k]); !strings.HasPrefix(got, "SIP/2.0 200") || header(got, "Call-ID") != id {
				t.Fatalf("%s answered:\n%s", id, got)
			}
		}
	}
	for i, a := range agents {
		if a.StackBuilt() != (i < n/2) {
			t.Errorf("agent %d: stack built %v", i, a.StackBuilt())
		}
		a.Close()
		if err := <-ends[i]; err != nil {
			t.Errorf("agent %d ended with %v", i, err)
		}
		// Its socket is closed: the port binds again.
		p, err := net.ListenPacket("udp", a.LocalAddr().String())
		if err != nil {
			t.Errorf("agent %d: port still held: %v", i, err)
			continue
		}
		p.Close()
	}
	for i, ch := range ends {
		select {
		case err := <-ch:
			t.Errorf("agent %d said twice that it ended (%v)", i, err)
		default:
		}
	}
}

// TestIdleWatchReadsAnswersToFirstRequest: an extension waiting in the watch whose first
// message is its own REGISTER leaves the watch and reads the answer.
func TestIdleWatchReadsAnswersToFirstRequest(t *testing.T) {
	w := idleWatch(t)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, ended := startWatched(t, w, sip.Config{UserID: "1001", Proxy: c.LocalAddr().String()})
	registerOnce(t, a, c)
	a.Close()
	if err := <-ended; err != nil {
		t.Errorf("ended with %v", err)
	}
}

// registerOnce registers a through the raw registrar c, which grants an hour.
func registerOnce(t *testing.T, a *sip.Agent, c net.PacketConn) {
	t.Helper()
	type result struct {
		reg *sip.Registration
		err error
	}
	res := make(chan result, 1)
	go func() {
		reg, err := a.Register(context.Background(), time.Hour)
		res <- result{reg, err}
	}()
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no REGISTER: %v", err)
	}
	req := string(buf[:n])
	if !strings.HasPrefix(req, "REGISTER ") {
		t.Fatalf("got:\n%s", req)
	}
	ok := "SIP/2.0 200 OK\r\n" + headerLines(req, "Via") + "From: " + header(req, "From") + "\r\nTo: " + header(req, "To") + ";tag=reg\r\n" +
		"Call-ID: " + header(req, "Call-ID") + "\r\nCSeq: " + header(req, "CSeq") + "\r\nContact: " + header(req, "Contact") + ";expires=3600\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := c.WriteTo([]byte(ok), from); err != nil {
		t.Fatal(err)
	}
	r := <-res // bounded by Timer F
	if r.err != nil {
		t.Fatalf("Register (its answer not read?): %v", r.err)
	}
	if r.reg.Expires != time.Hour {
		t.Errorf("granted %v, want 1h", r.reg.Expires)
	}
}
