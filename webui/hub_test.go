package webui

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/internal/testlog"
	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// hubServer runs the web server of u on addr, sharing hub's listeners and routes.
func hubServer(t *testing.T, hub *Hub, u *phone.Unit, addr string) *Server {
	t.Helper()
	s := NewServer(u, addr, Options{Logger: testlog.New(t), Hub: hub})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server %s: %v", addr, err)
		}
	})
	return s
}

// hubUnit is a running phone at ip with its own MAC.
func hubUnit(t *testing.T, ip, mac string) *phone.Unit {
	t.Helper()
	return testUnit(t, phone.Options{IP: ip, MAC: mac})
}

// waitDown waits until the server has stopped listening for the phone's shutdown.
func waitDown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		st, ch := s.state, s.changed
		s.mu.Unlock()
		if !st.settled {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("server still listening on %s", st.addr)
		}
	}
}

// wildcardPort returns a port free on every IPv4 address at the moment of the call, what a
// shared listener binds, and held from other tests' choices until the test ends
// (provtest.FreeTCPPort).
func wildcardPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := provtest.FreeTCPPort(t)
		if ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(port))); err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no port free on every IPv4 address")
	return 0
}

// statusMAC is the MAC the phone serving base says it is.
func statusMAC(t *testing.T, base string) string {
	t.Helper()
	var st struct {
		MAC string `json:"mac"`
	}
	mustJSON(t, "GET", base+"/api/v1/status", "", noCred, 200, &st)
	return st.MAC
}

// refusedOrReset says how a request to addr failed: "" when a phone answered it.
func refusedOrReset(t *testing.T, addr string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/api/v1/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A transport of its own: no kept-alive connection from an earlier request answers.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		res.Body.Close()
		return ""
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	default:
		return "reset"
	}
}

// sharedPorts returns the ports the hub holds a shared listener for.
func sharedPorts(hub *Hub) map[int]int {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	ports := map[int]int{}
	for k, pl := range hub.ports {
		ports[int(k.port)] = len(pl.phones)
	}
	return ports
}

const (
	macA = "000E08AA0002"
	macB = "000E08AA0003"
)

// sharePort starts the web servers of phone ua (on 127.0.0.2) and phone ub (on 127.0.0.3) on
// one port of hub, A's chosen by the system, and returns them with the addresses they listen on.
func sharePort(t *testing.T, hub *Hub, ua, ub *phone.Unit) (sa, sb *Server, addrA, addrB string) {
	t.Helper()
	sa = hubServer(t, hub, ua, "127.0.0.2:0")
	addrA = waitListening(t, sa, 1)
	_, port, _ := net.SplitHostPort(addrA)
	sb = hubServer(t, hub, ub, "127.0.0.3:"+port)
	return sa, sb, addrA, waitListening(t, sb, 1)
}

// TestHubDispatch: two phones on one port share one listener and each sees only its own
// pages; a connection to an address that is no phone's is reset, never served.
func TestHubDispatch(t *testing.T) {
	hub := NewHub(testlog.New(t))
	ua, ub := hubUnit(t, "127.0.0.2", macA), hubUnit(t, "127.0.0.3", macB)
	sa, sb, addrA, addrB := sharePort(t, hub, ua, ub)
	_, port, _ := net.SplitHostPort(addrA)
	if addrA != "127.0.0.2:"+port || addrB != "127.0.0.3:"+port {
		t.Fatalf("listening on %s and %s, want port %s on each phone's address", addrA, addrB, port)
	}
	p, _ := strconv.Atoi(port)
	if got := sharedPorts(hub); len(got) != 1 || got[p] != 2 {
		t.Fatalf("shared listeners = %v, want one on %d for 2 phones", got, p)
	}
	if sa.handler.table() != hub.routes || sb.handler.table() != hub.routes || sa.handler.own != nil || sb.handler.own != nil {
		t.Error("the phones of a hub do not serve the hub's one route table")
	}
	for range 3 { // connections go to their phone every time, not by turns
		if mac := statusMAC(t, "http://"+addrA); mac != macA {
			t.Fatalf("%s answers as %s, want %s", addrA, mac, macA)
		}
		if mac := statusMAC(t, "http://"+addrB); mac != macB {
			t.Fatalf("%s answers as %s, want %s", addrB, mac, macB)
		}
	}
	code, page := fetch(t, "GET", "http://"+addrB+"/", "", noCred)
	if code != 200 || !strings.Contains(page, macB) || strings.Contains(page, macA) {
		t.Errorf("GET %s/ = %d, want phone B's Info page only", addrB, code)
	}
	for _, stray := range []string{"127.0.0.4:" + port, "127.0.0.1:" + port} {
		if how := refusedOrReset(t, stray); how != "reset" {
			t.Errorf("GET http://%s/ (no phone's address): %q, want reset", stray, how)
		}
	}
	if _, err := hub.listen(t.Context(), addrB); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a second listener on %s: %v, want address in use", addrB, err)
	}
}

// TestHubPhoneMovesPort: a profile moves a phone to another Web_Server_Port: it serves there
// after its reboot and no more on the old port, where the other phone goes on; the old
// port's shared listener closes with its last phone.
func TestHubPhoneMovesPort(t *testing.T) {
	hub := NewHub(testlog.New(t))
	ua, ub := hubUnit(t, "127.0.0.2", macA), hubUnit(t, "127.0.0.3", macB)
	sa, sb, addrA, _ := sharePort(t, hub, ua, ub)
	_, port, _ := net.SplitHostPort(addrA)
	moved := strconv.Itoa(wildcardPort(t))

	move := func(s *Server, ip, mac string) {
		t.Helper()
		base := "http://" + net.JoinHostPort(ip, port)
		mustJSON(t, "POST", base+"/api/v1/profile", profile(config.WebServerPort, moved), noCred, 200, nil)
		mustJSON(t, "POST", base+"/api/v1/reboot", "{}", noCred, 202, nil)
		want := net.JoinHostPort(ip, moved)
		if got := waitListening(t, s, 2); got != want {
			t.Fatalf("after the move listening on %s, want %s", got, want)
		}
		if got := statusMAC(t, "http://"+want); got != mac {
			t.Fatalf("%s answers as %s, want %s", want, got, mac)
		}
	}
	move(sa, "127.0.0.2", macA)
	if how := refusedOrReset(t, "127.0.0.2:"+port); how != "reset" {
		t.Errorf("the moved phone's old port: %q, want reset", how)
	}
	if got := statusMAC(t, "http://127.0.0.3:"+port); got != macB {
		t.Errorf("the phone left on the old port answers as %s, want %s", got, macB)
	}
	p, _ := strconv.Atoi(port)
	m, _ := strconv.Atoi(moved)
	if got := sharedPorts(hub); len(got) != 2 || got[p] != 1 || got[m] != 1 {
		t.Errorf("shared listeners = %v, want one phone on %d and one on %d", got, p, m)
	}

	move(sb, "127.0.0.3", macB)
	if got := sharedPorts(hub); len(got) != 1 || got[m] != 2 {
		t.Errorf("shared listeners = %v, want both phones on %d", got, m)
	}
	if how := refusedOrReset(t, "127.0.0.3:"+port); how != "refused" {
		t.Errorf("the old port once no phone uses it: %q, want refused (its listener closed)", how)
	}
	if got := statusMAC(t, "http://127.0.0.2:"+moved); got != macA {
		t.Errorf("127.0.0.2:%s answers as %s, want %s", moved, got, macA)
	}
}

// TestHubPhoneOff: a phone powered off answers nothing on the shared port while the other
// goes on, and serves again when its power is back; a phone whose web server is disabled
// answers nothing either.
func TestHubPhoneOff(t *testing.T) {
	hub := NewHub(testlog.New(t))
	ua, ub := hubUnit(t, "127.0.0.2", macA), hubUnit(t, "127.0.0.3", macB)
	sa, sb, addrA, addrB := sharePort(t, hub, ua, ub)

	ua.PowerCycle(time.Hour) // off until told otherwise
	waitDown(t, sa)
	if how := refusedOrReset(t, addrA); how != "reset" {
		t.Errorf("the phone powered off: %q, want reset", how)
	}
	if got := statusMAC(t, "http://"+addrB); got != macB {
		t.Errorf("the other phone answers as %s, want %s", got, macB)
	}
	ua.PowerCycle(0) // the power is back
	if got := waitListening(t, sa, 2); got != addrA {
		t.Fatalf("after the power cycle listening on %s, want %s", got, addrA)
	}
	if got := statusMAC(t, "http://"+addrA); got != macA {
		t.Errorf("after the power cycle %s answers as %s, want %s", addrA, got, macA)
	}

	mustJSON(t, "POST", "http://"+addrB+"/api/v1/profile", profile(config.EnableWebServer, "No"), noCred, 200, nil)
	mustJSON(t, "POST", "http://"+addrB+"/api/v1/reboot", "{}", noCred, 202, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := sb.WaitListening(ctx, 2); !errors.Is(err, ErrNotListening) {
		t.Fatalf("WaitListening = %v, want ErrNotListening", err)
	}
	if how := refusedOrReset(t, addrB); how != "reset" {
		t.Errorf("Enable_Web_Server=No: %q, want reset", how)
	}
	if got := statusMAC(t, "http://"+addrA); got != macA {
		t.Errorf("%s answers as %s, want %s", addrA, got, macA)
	}
}

// TestHubPortTaken: a port already in use on another address cannot be shared; the phones
// of that port listen on their own addresses, as without a hub.
func TestHubPortTaken(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, port, _ := net.SplitHostPort(other.Addr().String())
	hub := NewHub(testlog.New(t))
	ua := hubUnit(t, "127.0.0.2", macA)
	sa := hubServer(t, hub, ua, "127.0.0.2:"+port)
	addr := waitListening(t, sa, 1)
	if got := statusMAC(t, "http://"+addr); got != macA {
		t.Errorf("%s answers as %s, want %s", addr, got, macA)
	}
	if got := sharedPorts(hub); len(got) != 0 {
		t.Errorf("shared listeners = %v, want none", got)
	}
}

// TestHubBindFails: a shared listener that cannot be bound (too many open files) fails every
// phone of its port, each server's Run returning the error, and is logged once for them all.
func TestHubBindFails(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	hub := NewHub(zap.New(core))
	hub.bind = func(context.Context, string, string) (net.Listener, error) {
		return nil, &net.OpError{Op: "listen", Net: "tcp4", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	}
	port := strconv.Itoa(wildcardPort(t))
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		u := hubUnit(t, ip, fmt.Sprintf("000E08AA01%02X", i))
		s := NewServer(u, net.JoinHostPort(ip, port), Options{Logger: zap.New(core), Hub: hub})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := s.Run(ctx)
		cancel()
		if !errors.Is(err, syscall.EMFILE) {
			t.Errorf("phone %s: Run = %v, want too many open files", ip, err)
		}
	}
	if n := logs.FilterMessage("web listener failed").Len(); n != 1 {
		t.Errorf("%d lines say the shared listener failed, want 1", n)
	}
	if n := logs.FilterMessage("web server not listening").Len(); n != 0 {
		t.Errorf("%d phones logged the shared listener's failure, want none (the hub's one line)", n)
	}
}

// TestListeners: what a fleet budgets for its web listeners.
func TestListeners(t *testing.T) {
	addrs := []string{"127.0.0.2:8080", "127.0.0.3:8080", "10.1.2.3:8080", "[fd00::2]:8080", "[fd00::3]:8080",
		"127.0.0.2:8081", "localhost:8080", "0.0.0.0:9000", "127.0.0.4:0"}
	// 8080 and 8081 over IPv4, 8080 over IPv6; a name, a wildcard and port 0 each their own.
	if got := Listeners(addrs); got != 6 {
		t.Errorf("Listeners = %d, want 6", got)
	}
}

// BenchmarkFirstRequest is a phone's first request (GET /healthz, what a re-triggered storm's
// phones and every probe start with) on a fresh handler: with routes of its own, built at
// that request, and with its fleet's (a Hub's), built once.
func BenchmarkFirstRequest(b *testing.B) {
	u := testUnit(b, phone.Options{Logger: zap.NewNop()})
	req := httptest.NewRequest("GET", "http://127.0.0.1"+HealthPath, nil).WithContext(context.Background())
	for _, bc := range []struct {
		name string
		hub  *Hub
	}{{"own routes", nil}, {"fleet routes", NewHub(nil)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h := newHandler(u, Options{Hub: bc.hub})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d", HealthPath, rec.Code)
				}
			}
		})
	}
}

// TestHubServerHoldsNoAcceptGoroutine: a phone's web server on a hub, started and not run,
// keeps no goroutine waiting for its connections (the hub hands each over), serves its
// pages, and says when it has ended.
func TestHubServerHoldsNoAcceptGoroutine(t *testing.T) {
	hub := NewHub(testlog.New(t))
	ua, ub := hubUnit(t, "127.0.0.2", macA), hubUnit(t, "127.0.0.3", macB)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ended := make(chan error, 2)
	sa := NewServer(ua, "127.0.0.2:0", Options{Logger: testlog.New(t), Hub: hub})
	sa.Start(ctx, func(err error) { ended <- err })
	addrA := waitListening(t, sa, 1)
	_, port, _ := net.SplitHostPort(addrA)
	sb := NewServer(ub, "127.0.0.3:"+port, Options{Logger: testlog.New(t), Hub: hub})
	sb.Start(ctx, func(err error) { ended <- err })
	addrB := waitListening(t, sb, 1)
	for _, c := range []struct{ addr, mac string }{{addrA, macA}, {addrB, macB}, {addrA, macA}} {
		if mac := statusMAC(t, "http://"+c.addr); mac != c.mac {
			t.Fatalf("%s answers as %s, want %s", c.addr, mac, c.mac)
		}
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if n := strings.Count(stacks, "webui.(*phoneListener).Accept"); n != 0 {
		t.Errorf("%d goroutines wait in a phone's share of the hub's listener, want none", n)
	}
	cancel()
	for range 2 {
		if err := <-ended; err != nil {
			t.Errorf("ended: %v, want nil", err)
		}
	}
	if how := refusedOrReset(t, addrA); how != "reset" && how != "refused" {
		t.Errorf("GET %s after the end: %q, want reset or refused", addrA, how)
	}
}
