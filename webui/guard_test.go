package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/spa900/spa900/internal/testlog"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// send makes one request with the given headers and no credentials; it returns the status
// and the body.
func send(t *testing.T, method, url, body string, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Issue 9 item 3, DNS rebinding: a page of an attacker's name that resolves to the phone sends
// Host: <the attacker's name>; it could read /api/v1/config. Every request must name the phone.
func TestHostHeaderNamesThePhone(t *testing.T) {
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.HostName, "desk12"), config.Set(config.Domain, "lab.example")}})
	h := newHandler(u, Options{Logger: testlog.New(t), AllowHosts: []string{"Phone.Proxy.Example."}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	tests := []struct {
		host string
		want int
	}{
		{"", 200}, // the address the test server listens on
		{"127.0.0.1:" + port, 200},
		{"[::1]:" + port, 200},
		{"10.1.2.3", 200},
		{"localhost:" + port, 200},
		{"phone.localhost", 200},
		{"desk12", 200},
		{"DESK12.lab.example:" + port, 200},
		{"phone.proxy.example", 200},
		{"evil.example:" + port, 403},
		{"desk12.evil.example", 403},
		{"lab.example", 403},
		{"localhost.evil.example", 403},
		{"127.0.0.1.nip.io", 403},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/config", "/admin/spacfg.xml", "/admin/", "/api/v1/events?after=0"} {
			hdr := []string{}
			if tt.host != "" {
				hdr = []string{"Host", tt.host}
			}
			if tt.want == 200 && strings.Contains(path, "events") {
				continue // a stream: its 200 is tested elsewhere
			}
			code, body := send(t, http.MethodGet, srv.URL+path, "", hdr...)
			if code != tt.want {
				t.Errorf("GET %s with Host %q = %d, want %d", path, tt.host, code, tt.want)
			}
			if code == 403 && (strings.Contains(body, "Admin_Passwd") || !strings.Contains(body, "--allow-host")) {
				t.Errorf("GET %s with Host %q: refusal %q, want the way out and no configuration", path, tt.host, clip(body, 200))
			}
		}
	}
}

// Issue 9 item 3, cross-site requests: the forms refused cross-site posts, but the API took a
// cross-site text/plain POST (which a browser sends without a CORS preflight), so any page a
// LAN user opened could reboot or factory-reset the phone. Now the API refuses what a browser
// marks as cross-origin, and what is not of its content type; curl and scripts still work.
func TestAPIRefusesCrossSiteRequests(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	p, _ := u.Phone()
	p.SetHook(t.Context(), true) // so that a reboot that got through would wait, and show
	tests := []struct {
		name string
		path string
		body string
		hdr  []string
		want int
	}{
		{"cross-site text/plain reboot", "/api/v1/reboot", "{}", []string{"Content-Type", "text/plain", "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, 403},
		{"cross-site, no body", "/api/v1/factory-reset", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"same-site, another port", "/api/v1/reboot", "", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"old browser: foreign Origin", "/api/v1/reboot", "", []string{"Origin", "http://evil.example"}, 403},
		{"old browser: null Origin", "/api/v1/reboot", "", []string{"Origin", "null"}, 403},
		{"cross-site read", "/api/v1/config", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"text/plain without browser headers", "/api/v1/reboot", "{}", []string{"Content-Type", "text/plain"}, 415},
		{"form post", "/api/v1/resync", "url=http://evil/", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415},
		{"a body needs a type", "/api/v1/reboot", "{}", nil, 415},
		{"profile as text/plain", "/api/v1/profile", profile("GPP_A", "x"), []string{"Content-Type", "text/plain"}, 415},
		{"profile as JSON", "/api/v1/profile", profile("GPP_A", "x"), []string{"Content-Type", "application/json"}, 415},
		// What must keep working.
		{"curl -X POST", "/api/v1/report", "", nil, 400}, // no Report_Rule: refused for that, not for the headers
		{"curl --json", "/api/v1/hook", `{"offhook": true}`, []string{"Content-Type", "application/json"}, 200},
		{"JSON with charset", "/api/v1/hook", `{"offhook": true}`, []string{"Content-Type", "application/json; charset=utf-8"}, 200},
		{"profile as XML", "/api/v1/profile", profile("GPP_A", "x"), []string{"Content-Type", "application/xml"}, 200},
		{"profile as text/xml", "/api/v1/profile", profile("GPP_B", "y"), []string{"Content-Type", "text/xml; charset=utf-8"}, 200},
		{"same-origin browser", "/api/v1/hook", `{"offhook": true}`, []string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-origin", "Origin", srv.URL}, 200},
		{"typed address", "/api/v1/config", "", []string{"Sec-Fetch-Site", "none"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.path == "/api/v1/config" {
				method = http.MethodGet
			}
			code, body := send(t, method, srv.URL+tt.path, tt.body, tt.hdr...)
			if code != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", method, tt.path, code, clip(body, 200), tt.want)
			}
		})
	}
	if st := u.Status(); len(st.Pending) != 0 || st.Config.Get("GPP_A") != "x" {
		t.Errorf("pending %+v, GPP_A %q: a refused request acted, or an accepted one did not", st.Pending, st.Config.Get("GPP_A"))
	}
}

// heapAlloc returns the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
