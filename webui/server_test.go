package webui

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// testServer runs a Server for u on a port chosen at run time. It does not wait for it.
func testServer(t *testing.T, u *phone.Unit, addr string) (*Server, <-chan error) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s := NewServer(u, addr, Options{Logger: testlog.New(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s, done
}

// waitListening waits for the server to listen for boot number boot.
func waitListening(t *testing.T, s *Server, boot int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr, err := s.WaitListening(ctx, boot)
	if err != nil {
		t.Fatalf("WaitListening(%d): %v", boot, err)
	}
	return addr
}

// TestRebootGateThroughWeb is the foundation's acceptance scenario through the web: off-hook,
// /admin/reboot answers "will reboot when not in use", the status shows the pending reboot
// with its reason; on-hook, the phone reboots, the server answers again on the same port
// with boot_count + 1, the flash kept a value set before, and the event stream delivered the
// story in order and resumes after the reboot with Last-Event-ID (SPA-BEHAVIOUR §5.4,
// DECISIONS 17, 21).
func TestRebootGateThroughWeb(t *testing.T) {
	u := testUnit(t, phone.Options{})
	s, _ := testServer(t, u, "")
	addr := waitListening(t, s, 1)
	base := "http://" + addr
	gppA := gpp(t, "a")

	var applied phone.ApplyResult
	mustJSON(t, "POST", base+"/api/v1/profile", profile(gppA, "kept across reboot"), noCred, 200, &applied)
	if len(applied.Changed) != 1 || applied.Changed[0] != gppA {
		t.Fatalf("changed = %v, want [%s]", applied.Changed, gppA)
	}

	events, closeEvents := openEvents(t, base+"/api/v1/events?after=0", noCred, "")
	defer closeEvents()
	boot := events.expect(phone.EventBoot, phone.EventConfigApplied)[0]
	if boot.data["boot_count"] != float64(1) || boot.data["time"] == nil {
		t.Errorf("boot event = %+v", boot)
	}

	mustJSON(t, "POST", base+"/api/v1/hook", `{"offhook": true}`, noCred, 200, nil)
	code, page := fetch(t, "GET", base+"/admin/reboot", "", noCred)
	if code != 200 || !strings.Contains(page, "will reboot when it is not in use") {
		t.Fatalf("GET /admin/reboot = %d %q, want the deferred page", code, page)
	}
	var st struct {
		State     string          `json:"state"`
		BootCount int             `json:"boot_count"`
		Idle      bool            `json:"idle"`
		Pending   []phone.Pending `json:"pending"`
	}
	mustJSON(t, "GET", base+"/api/v1/status", "", noCred, 200, &st)
	if st.Idle || st.BootCount != 1 || st.State != "running" || len(st.Pending) != 1 ||
		st.Pending[0].Op != "reboot" || !strings.Contains(st.Pending[0].Reason, "/admin/reboot") {
		t.Fatalf("status = %+v, want running, busy, boot 1, a pending reboot asked by /admin/reboot", st)
	}
	deferred := events.expect(phone.EventHook, phone.EventDeferred)[1]
	if deferred.data["op"] != "reboot" || deferred.data["reason"] != "handset off-hook" {
		t.Errorf("deferred event = %+v", deferred.data)
	}

	mustJSON(t, "POST", base+"/api/v1/hook", `{"offhook": false}`, noCred, 200, nil)
	got := events.expect(phone.EventHook, phone.EventStarted, phone.EventShutdown)
	if got[1].data["op"] != "reboot" {
		t.Errorf("started event = %+v", got[1].data)
	}
	if e, ok := events.next(); ok {
		t.Fatalf("event stream goes on after shutdown: %+v", e)
	}
	lastID := got[2].id

	if again := waitListening(t, s, 2); again != addr {
		t.Errorf("after reboot listening on %s, want %s", again, addr)
	}
	mustJSON(t, "POST", base+"/api/v1/hook", `{"offhook": false}`, noCred, 200, nil) // settle
	mustJSON(t, "GET", base+"/api/v1/status", "", noCred, 200, &st)
	if st.BootCount != 2 || st.State != "running" || len(st.Pending) != 0 || !st.Idle {
		t.Errorf("status after reboot = %+v, want boot 2, running, idle, nothing pending", st)
	}
	var cfg configResponse
	mustJSON(t, "GET", base+"/api/v1/config", "", noCred, 200, &cfg)
	if cfg.Values[gppA] != "kept across reboot" {
		t.Errorf("%s after reboot = %q", gppA, cfg.Values[gppA])
	}

	resumed, closeResumed := openEvents(t, base+"/api/v1/events", noCred, lastID)
	defer closeResumed()
	e, ok := resumed.next()
	if !ok || e.kind != phone.EventBoot || e.data["boot_count"] != float64(2) || atoi(t, e.id) != atoi(t, lastID)+1 {
		t.Fatalf("first event after Last-Event-ID %s = %+v, want the boot of boot_count 2", lastID, e)
	}
}

// TestServerHonoursConfig: Enable_Web_Server and Web_Server_Port, read at each boot
// (SPA-BEHAVIOUR §5.1).
func TestServerHonoursConfig(t *testing.T) {
	t.Run("disabled from the start", func(t *testing.T) {
		u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.EnableWebServer, "No")}})
		s, _ := testServer(t, u, "")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := s.WaitListening(ctx, 1); !errors.Is(err, ErrNotListening) {
			t.Fatalf("WaitListening = %v, want ErrNotListening", err)
		}
		if s.Addr() != "" {
			t.Errorf("Addr = %q, want none", s.Addr())
		}
	})
	t.Run("disabled, then reboot", func(t *testing.T) {
		u := testUnit(t, phone.Options{})
		s, _ := testServer(t, u, "")
		base := "http://" + waitListening(t, s, 1)
		mustJSON(t, "POST", base+"/api/v1/profile", profile(config.EnableWebServer, "No"), noCred, 200, nil)
		mustJSON(t, "POST", base+"/api/v1/reboot", "", noCred, 202, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := s.WaitListening(ctx, 2); !errors.Is(err, ErrNotListening) {
			t.Fatalf("WaitListening = %v, want ErrNotListening", err)
		}
		if conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://")); err == nil {
			conn.Close()
			t.Fatal("still accepting connections with Enable_Web_Server=No")
		}
	})
	t.Run("Web_Server_Port changed", func(t *testing.T) {
		free := provtest.FreeTCPPort(t) // not the kernel's choice: see its doc
		u := testUnit(t, phone.Options{})
		s, _ := testServer(t, u, "")
		base := "http://" + waitListening(t, s, 1)
		mustJSON(t, "POST", base+"/api/v1/profile", profile(config.WebServerPort, strconv.Itoa(free)), noCred, 200, nil)
		mustJSON(t, "POST", base+"/api/v1/reboot", "{}", noCred, 202, nil)
		want := net.JoinHostPort("127.0.0.1", strconv.Itoa(free))
		if got := waitListening(t, s, 2); got != want {
			t.Fatalf("listening on %s, want %s", got, want)
		}
		mustJSON(t, "GET", "http://"+want+"/api/v1/status", "", noCred, 200, nil)
	})
}

// TestServerRunEnds: Run returns nil when its context ends, and waiters learn it; a first
// listen that fails is Run's error.
func TestServerRunEnds(t *testing.T) {
	u := testUnit(t, phone.Options{})
	t.Run("context ends", func(t *testing.T) {
		s := NewServer(u, "127.0.0.1:0", Options{Logger: testlog.New(t)})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		addr := waitListening(t, s, 1)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if _, err := s.WaitListening(t.Context(), 1); !errors.Is(err, ErrServerStopped) {
			t.Errorf("WaitListening after Run = %v, want ErrServerStopped", err)
		}
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			t.Error("still accepting connections after Run returned")
		}
	})
	t.Run("address taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		s := NewServer(u, ln.Addr().String(), Options{Logger: testlog.New(t)})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := s.Run(ctx); err == nil || ctx.Err() != nil {
			t.Fatalf("Run = %v, want a listen error", err)
		}
	})
}

// TestServerStartsBeforeUnit: a server started before its unit boots listens once it has.
func TestServerStartsBeforeUnit(t *testing.T) {
	u, err := phone.NewUnit(phone.Options{Flash: config.NewFileFlash(t.TempDir() + "/flash.json"),
		IP: "127.0.0.1", Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := testServer(t, u, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base := "http://" + waitListening(t, s, 1)
	code, _ := fetch(t, "GET", base+"/admin/spacfg.xml", "", noCred)
	if code != http.StatusOK {
		t.Errorf("GET /admin/spacfg.xml = %d", code)
	}
}
