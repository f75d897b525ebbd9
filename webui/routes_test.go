package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
	"github.com/spa900/spa900/internal/testlog"
	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// testUnit starts a phone unit on a fresh flash with no boot time and waits until it runs.
// Every extension listens on a free port (the factory 5060, 5061, … are taken by whatever
// else runs on the machine); a test's own SIP_Port_n_ default wins.
func testUnit(t testing.TB, opts phone.Options) *phone.Unit {
	t.Helper()
	name := opts.Model
	if name == "" {
		name = config.DefaultModel
	}
	m, err := config.LookupModel(name)
	if err != nil {
		t.Fatal(err)
	}
	var ports []config.Change
	for n := 1; n <= m.Extensions; n++ {
		ports = append(ports, config.Set(config.ExtName(config.SIPPort, n), strconv.Itoa(provtest.FreeUDPPort(t))))
	}
	opts.Defaults = append(ports, opts.Defaults...)
	if opts.Flash == nil {
		opts.Flash = config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json"))
	}
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = testlog.New(tt)
		} else {
			opts.Logger = zap.NewNop()
		}
	}
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	u, err := phone.NewUnit(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := u.Bus().Subscribe(ctx, 0)
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("unit Run: %v", err)
		}
	})
	waitEvent(t, events, phone.EventBoot)
	settle(t, u)
	return u
}

// settle returns once the phone's loop has published the status of everything asked of it so
// far: a request to the loop is answered only after the status is published.
func settle(t testing.TB, u *phone.Unit) {
	t.Helper()
	p, err := u.Phone()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetHook(context.Background(), u.Status().OffHook); err != nil {
		t.Fatal(err)
	}
}

// waitEvent reads events until one of kind arrives.
func waitEvent(t testing.TB, events <-chan phone.Event, kind string) phone.Event {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed waiting for %s", kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-timeout.C:
			t.Fatalf("no %s event", kind)
		}
	}
}

// testHandler serves a unit's handler on a loopback httptest server.
func testHandler(t *testing.T, u *phone.Unit) (*handler, *httptest.Server) {
	t.Helper()
	h := newHandler(u, Options{Logger: testlog.New(t)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// cred is how a test request authenticates.
type cred struct {
	scheme string // "", "basic" or "digest"
	user   string
	pass   string
}

var noCred = cred{}

func basic(user, pass string) cred   { return cred{"basic", user, pass} }
func digestC(user, pass string) cred { return cred{"digest", user, pass} }

// request sends one request with the given credentials; Digest goes through the
// challenge-response of a real client implementation.
func request(t *testing.T, method, url string, body io.Reader, c cred) *http.Response {
	t.Helper()
	var rt http.RoundTripper = http.DefaultTransport
	if c.scheme == "digest" {
		rt = &digest.Transport{Username: c.user, Password: c.pass}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.scheme == "basic" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if body != nil && method == http.MethodPost {
		req.Header.Set("Content-Type", apiContentType(url))
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// apiContentType is the Content-Type a script sends to an API URL: XML for a profile, else
// JSON.
func apiContentType(url string) string {
	if strings.Contains(url, "/api/v1/profile") {
		return "application/xml"
	}
	return "application/json"
}

// fetch sends a request and returns its status and body.
func fetch(t *testing.T, method, url, body string, c cred) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := request(t, method, url, rd, c)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// mustJSON sends a request that must answer want and decodes its JSON body into v.
func mustJSON(t *testing.T, method, url, body string, c cred, want int, v any) {
	t.Helper()
	code, b := fetch(t, method, url, body, c)
	if code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(b), v); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
}

// profile builds a flat-profile document from name/value pairs.
func profile(kv ...string) string {
	var b strings.Builder
	b.WriteString("<flat-profile>\n")
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "<%s>%s</%s>\n", kv[i], kv[i+1], kv[i])
	}
	b.WriteString("</flat-profile>\n")
	return b.String()
}

func gpp(t testing.TB, letter string) string {
	t.Helper()
	name, ok := config.GPP(letter)
	if !ok {
		t.Fatalf("GPP(%q)", letter)
	}
	return name
}

// sseEvent is one event read from the stream.
type sseEvent struct {
	id, kind string
	data     map[string]any
}

// sseReader reads server-sent events.
type sseReader struct {
	t  *testing.T
	br *bufio.Reader
}

// next returns the next event, skipping comments and retry lines; ok is false at the end of
// the stream.
func (s *sseReader) next() (e sseEvent, ok bool) {
	s.t.Helper()
	got := false
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return e, false
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if got {
				return e, true
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			e.id, got = line[4:], true
		case strings.HasPrefix(line, "event: "):
			e.kind, got = line[7:], true
		case strings.HasPrefix(line, "data: "):
			got = true
			if err := json.Unmarshal([]byte(line[6:]), &e.data); err != nil {
				s.t.Fatalf("event data %q: %v", line, err)
			}
		default:
			s.t.Fatalf("unexpected event stream line %q", line)
		}
	}
}

// openEvents opens the event stream; the server has subscribed once the headers arrive.
func openEvents(t *testing.T, url string, c cred, lastID string) (*sseReader, func()) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	if c.scheme == "basic" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return &sseReader{t: t, br: bufio.NewReader(resp.Body)}, func() { resp.Body.Close() }
}

// expectEvents reads events, skipping kinds not in want, until each wanted kind has come in
// order; it returns the events matched.
func (s *sseReader) expect(want ...string) []sseEvent {
	s.t.Helper()
	var got []sseEvent
	for len(got) < len(want) {
		e, ok := s.next()
		if !ok {
			s.t.Fatalf("event stream ended after %d of %v", len(got), want)
		}
		if e.kind == want[len(got)] {
			got = append(got, e)
		}
	}
	return got
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRoutesMethodsAndUnknown checks the API's 404 and 405 answers, in JSON.
func TestRoutesMethodsAndUnknown(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	tests := []struct {
		name      string
		method    string
		path      string
		wantCode  int
		wantAllow string
	}{
		{name: "unknown endpoint", method: "GET", path: "/api/v1/nope", wantCode: 404},
		{name: "unknown version", method: "GET", path: "/api/v2/status", wantCode: 404},
		{name: "POST on status", method: "POST", path: "/api/v1/status", wantCode: 405, wantAllow: "GET, HEAD"},
		{name: "GET on reboot", method: "GET", path: "/api/v1/reboot", wantCode: 405, wantAllow: "POST"},
		{name: "DELETE on profile", method: "DELETE", path: "/api/v1/profile", wantCode: 405, wantAllow: "POST"},
		{name: "GET on report", method: "GET", path: "/api/v1/report", wantCode: 405, wantAllow: "POST"},
		{name: "PUT on factory reset", method: "PUT", path: "/api/v1/factory-reset", wantCode: 405, wantAllow: "POST"},
		{name: "HEAD on events", method: "HEAD", path: "/api/v1/events", wantCode: 405, wantAllow: "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := request(t, tt.method, srv.URL+tt.path, nil, noCred)
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if tt.method == "HEAD" {
				return
			}
			var e struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
				t.Errorf("body is not a JSON error: %v %+v", err, e)
			}
		})
	}
}

// TestAdminAccessDisabled: Enable_Web_Admin_Access=No refuses the admin URLs with the reason;
// the API still answers (SPA-BEHAVIOUR §5.1).
func TestAdminAccessDisabled(t *testing.T) {
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.EnableWebAdminAccess, "No")}})
	_, srv := testHandler(t, u)
	for _, path := range []string{"/admin/reboot", "/admin/resync", "/admin/upgrade?x/y.bin", "/upgrade?x/y.bin", "/admin/spacfg.xml"} {
		code, body := fetch(t, "GET", srv.URL+path, "", noCred)
		if code != http.StatusForbidden || !strings.Contains(body, "Enable_Web_Admin_Access") {
			t.Errorf("GET %s = %d %q, want 403 with the reason", path, code, body)
		}
	}
	if st := u.Status(); len(st.Pending) != 0 {
		t.Errorf("pending = %+v, want nothing queued", st.Pending)
	}
	mustJSON(t, "GET", srv.URL+"/api/v1/status", "", noCred, http.StatusOK, nil)
}
