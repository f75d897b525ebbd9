package webui

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// TestSpacfgXML: the export's shape and who sees what (SPA-BEHAVIOUR §5.2, §5.3).
func TestSpacfgXML(t *testing.T) {
	const adminPw, userPw = "adm1n-secret", "us3r-secret"
	u := testUnit(t, phone.Options{Model: "SPA962", Defaults: []config.Change{
		config.Set(config.AdminPasswd, adminPw), config.Set(config.UserPassword, userPw),
		config.Set(config.ExtName(config.Password, 1), "line-secret")}})
	_, srv := testHandler(t, u)
	cat := u.Status().Config.Catalog()

	t.Run("admin", func(t *testing.T) {
		resp := request(t, "GET", srv.URL+"/admin/spacfg.xml", nil, digestC("admin", adminPw))
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml" {
			t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var lines []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if lines[0] != "<flat-profile>" || !strings.HasPrefix(lines[13], `<MAC_Address group="Info/Product_Information">`) {
			t.Errorf("line 0 = %q, line 13 = %q", lines[0], lines[13])
		}
		body := strings.Join(lines, "\n")
		for _, p := range cat.Params() {
			if !p.Hidden && !strings.Contains(body, "<"+p.Name+" ") {
				t.Errorf("admin export lacks %s", p.Name)
			}
		}
		if !strings.Contains(body, ">"+adminPw+"<") {
			t.Error("admin export lacks the admin password")
		}
	})
	t.Run("user", func(t *testing.T) {
		code, body := fetch(t, "GET", srv.URL+"/admin/spacfg.xml", "", basic("user", userPw))
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		snap := u.Status().Config
		for i, p := range cat.Params() {
			shown := strings.Contains(body, "<"+p.Name+" ")
			want := !p.Hidden && !p.Secret && snap.AccessAt(i).UserCanRead()
			if shown != want {
				t.Errorf("user export shows %s = %v, want %v (access %v, secret %v)", p.Name, shown, want, snap.AccessAt(i), p.Secret)
			}
		}
		for _, secret := range []string{adminPw, userPw, "line-secret"} {
			if strings.Contains(body, secret) {
				t.Errorf("user export shows the secret %q", secret)
			}
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		if code, _ := fetch(t, "GET", srv.URL+"/admin/spacfg.xml", "", noCred); code != 401 {
			t.Errorf("status %d, want 401", code)
		}
	})
}

// TestBooting: while the unit boots it has no configuration to answer from: 503.
func TestBooting(t *testing.T) {
	u, err := phone.NewUnit(phone.Options{Flash: config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json"))})
	if err != nil {
		t.Fatal(err)
	}
	_, srv := testHandler(t, u)
	for _, path := range []string{"/admin/spacfg.xml", "/admin/reboot", "/api/v1/status"} {
		if code, body := fetch(t, "GET", srv.URL+path, "", noCred); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s = %d %q, want 503", path, code, body)
		}
	}
}

// TestActionRefusals: the HTTP contract of the gated action URLs and their API twins when
// the phone refuses them (DECISIONS 17): 403 with the reason, nothing queued.
func TestActionRefusals(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	mustJSON(t, "POST", srv.URL+"/api/v1/profile",
		profile(config.ProvisionEnable, "No", config.UpgradeEnable, "No"), noCred, 200, nil)
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   int
		reason string
	}{
		{name: "resync URL", method: "GET", path: "/admin/resync", want: 403, reason: config.ProvisionEnable},
		{name: "resync URL with a URL", method: "GET", path: "/admin/resync?http://127.0.0.1/p.cfg", want: 403, reason: config.ProvisionEnable},
		{name: "resync API", method: "POST", path: "/api/v1/resync", body: `{"url": "/p.cfg"}`, want: 403, reason: config.ProvisionEnable},
		{name: "upgrade URL", method: "GET", path: "/admin/upgrade?127.0.0.1/spa.bin", want: 403, reason: config.UpgradeEnable},
		{name: "Sipura upgrade URL", method: "POST", path: "/upgrade?/spa.bin", want: 403, reason: config.UpgradeEnable},
		{name: "upgrade API", method: "POST", path: "/api/v1/upgrade", body: `{"url": "tftp://h/spa.bin"}`, want: 403, reason: config.UpgradeEnable},
		{name: "HEAD does not reboot", method: "HEAD", path: "/admin/reboot", want: 405},
		{name: "control character", method: "GET", path: "/admin/resync?http://h/a%0Ab", want: 400, reason: "control character"},
		{name: "API resync bad JSON", method: "POST", path: "/api/v1/resync", body: `{"url": 5}`, want: 400, reason: "url"},
		{name: "API resync unknown field", method: "POST", path: "/api/v1/resync", body: `{"uri": "x"}`, want: 400, reason: "uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := fetch(t, tt.method, srv.URL+tt.path, tt.body, noCred)
			if code != tt.want || !strings.Contains(body, tt.reason) {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, code, body, tt.want, tt.reason)
			}
			if p := u.Status().Pending; len(p) != 0 {
				t.Errorf("pending = %+v, want nothing queued", p)
			}
		})
	}
}

// TestActionURL: the raw query string is the URL, in all the device's forms (SPA-BEHAVIOUR
// §5.4).
func TestActionURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr bool
	}{
		{name: "none", raw: "", want: ""},
		{name: "full", raw: "http://10.0.0.1:8080/spa942.cfg", want: "http://10.0.0.1:8080/spa942.cfg"},
		{name: "no scheme", raw: "10.0.0.1/spa942.cfg", want: "10.0.0.1/spa942.cfg"},
		{name: "no server", raw: "/spa942.cfg", want: "/spa942.cfg"},
		{name: "file only", raw: "spa.bin", want: "spa.bin"},
		{name: "query inside", raw: "http://h/p.cfg?mac=$MA&x=1", want: "http://h/p.cfg?mac=$MA&x=1"},
		{name: "not key=value", raw: "url=http://h/p", want: "url=http://h/p"},
		{name: "browser escapes", raw: "[--key%20s3]%20http://h/p.cfg", want: "[--key s3] http://h/p.cfg"},
		{name: "plus kept", raw: "http://h/a+b.cfg", want: "http://h/a+b.cfg"},
		{name: "bad escape kept", raw: "http://h/100%.cfg", want: "http://h/100%.cfg"},
		{name: "NUL", raw: "http://h/a%00", wantErr: true},
		{name: "newline", raw: "http://h/a%0d%0aX: y", wantErr: true},
		{name: "not UTF-8", raw: "http://h/%ff", wantErr: true},
		{name: "too long", raw: "http://h/" + strings.Repeat("a", maxActionURL), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := actionURL(tt.raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("actionURL(%q) error = %v, want error %v", tt.raw, err, tt.wantErr)
			}
			if err != nil {
				if code := errorStatus(err); code != http.StatusBadRequest {
					t.Errorf("status of %v = %d, want 400", err, code)
				}
				return
			}
			if got != tt.want {
				t.Errorf("actionURL(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

// FuzzAdminQuery feeds any raw query string of /admin/resync?… and /admin/upgrade?… through
// Go's request parser and actionURL: no panic, a URL without control characters or an error
// that answers 400, and a query with no escapes passed through unchanged.
func FuzzAdminQuery(f *testing.F) {
	for _, s := range []string{"", "http://10.0.0.1/spa.cfg", "10.0.0.1:6969/p.cfg", "/p.cfg",
		"tftp://h/$MA.cfg", "[--key $SA]https://h/x.cfg", "%5B--key%20k%5D%20http://h/x", "http://h/a?b=c&d",
		"%zz", "a%00b", "http://[::1]:80/x", "h/a#frag", "é/%C3%A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got, err := actionURL(q)
		if err != nil {
			if errorStatus(err) != http.StatusBadRequest {
				t.Fatalf("actionURL(%q): %v answers %d, want 400", q, err, errorStatus(err))
			}
		} else {
			if !utf8.ValidString(got) || len(got) > maxActionURL {
				t.Fatalf("actionURL(%q) = %q", q, got)
			}
			for _, c := range got {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("actionURL(%q) = %q holds a control character", q, got)
				}
			}
			if !strings.Contains(q, "%") && got != q {
				t.Fatalf("actionURL(%q) = %q, want it unchanged", q, got)
			}
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /admin/resync?" + q + " HTTP/1.1\r\nHost: phone\r\n\r\n")))
		if err != nil {
			return
		}
		if req.URL.Path == "/admin/resync" && req.URL.RawQuery != q {
			t.Fatalf("RawQuery = %q, want %q", req.URL.RawQuery, q)
		}
		actionURL(req.URL.RawQuery)
	})
}

// TestActionPages: the action URLs answer at once with a short page (DECISIONS 17).
func TestActionPages(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	events := u.Bus().Subscribe(t.Context(), u.Bus().LastSeq())
	resp := request(t, "GET", srv.URL+"/admin/reboot", nil, noCred)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /admin/reboot = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	waitEvent(t, events, phone.EventShutdown)
}

// discard is a ResponseWriter that keeps nothing, for the benchmarks.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkSpacfgXML is the export of the full SPA962 configuration through the handler,
// authentication included (issue 2: export under 1 ms).
func BenchmarkSpacfgXML(b *testing.B) {
	u := testUnit(b, phone.Options{Model: "SPA962", Logger: zap.NewNop()})
	h := newHandler(u, Options{})
	req := httptest.NewRequest("GET", "/admin/spacfg.xml", nil).WithContext(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d", rec.Code)
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&discard{h: http.Header{}}, req)
	}
}

// TestResyncURLDuringRunningResync is issue 8's fifth case through the device's own URL: while
// a slow resync runs, /admin/resync?URL answers that it will run when the current one ends,
// the status shows it pending, and it runs then (DECISIONS 8).
func TestResyncURLDuringRunningResync(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var mu sync.Mutex
	var paths []string
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/slow.cfg" {
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "<flat-profile><GPP_A>"+r.URL.Path+"</GPP_A></flat-profile>")
	}))
	defer prov.Close()
	defer close(release)
	u := testUnit(t, phone.Options{Defaults: []config.Change{
		config.Set(config.ProfileRule, prov.URL+"/slow.cfg"), config.Set(config.ResyncRandomDelay, "0"),
	}})
	select {
	case <-entered:
	case <-t.Context().Done():
		t.Fatal("the boot resync never reached the server")
	}
	_, srv := testHandler(t, u)
	events := u.Bus().Subscribe(t.Context(), u.Bus().LastSeq())
	code, body := fetch(t, "GET", srv.URL+"/admin/resync?"+prov.URL+"/queued.cfg", "", noCred)
	if code != 200 || !strings.Contains(body, "The resync will be done when the current one ends.") {
		t.Fatalf("GET /admin/resync?URL = %d %s", code, body)
	}
	var st phone.Status
	mustJSON(t, "GET", srv.URL+"/api/v1/status", "", noCred, 200, &st)
	if n := len(st.Pending); n != 2 || st.Pending[1].WaitsFor == "" {
		t.Fatalf("pending %+v, want the running resync and the queued request", st.Pending)
	}
	release <- struct{}{} // the running resync may answer now
	for {
		ev := waitEvent(t, events, phone.EventResyncResult)
		if ev.Data["url"] == prov.URL+"/queued.cfg" {
			break
		}
	}
	if got := u.Status().Config.Get("GPP_A"); got != "/queued.cfg" {
		t.Errorf("GPP_A = %q, want the queued request's profile", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(paths, " "); got != "/slow.cfg /queued.cfg" {
		t.Errorf("the server saw %s", got)
	}
}
