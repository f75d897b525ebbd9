package webui

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/spa900/spa900/phone"
)

// seenRequest is what the phone's server saw of a request, and what it answered.
type seenRequest struct {
	method, path, host, site string
	code                     int
}

// recordingHandler wraps a handler and keeps what it saw.
type recordingHandler struct {
	h  http.Handler
	mu sync.Mutex
	rs []seenRequest
}

func (rh *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &codeWriter{ResponseWriter: w, code: 200}
	rh.h.ServeHTTP(cw, r)
	rh.mu.Lock()
	rh.rs = append(rh.rs, seenRequest{r.Method, r.URL.Path, r.Host, r.Header.Get("Sec-Fetch-Site"), cw.code})
	rh.mu.Unlock()
}

func (rh *recordingHandler) find(method, path string) []seenRequest {
	rh.mu.Lock()
	defer rh.mu.Unlock()
	var out []seenRequest
	for _, r := range rh.rs {
		if r.method == method && r.path == path {
			out = append(out, r)
		}
	}
	return out
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int)        { w.code = code; w.ResponseWriter.WriteHeader(code) }
func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Issue 9 item 3 in a real browser: a page of another site posts to the API the way a form
// does (text/plain, no CORS preflight) to reboot, factory-reset and reprovision the phone;
// then, as after DNS rebinding, a page of the attacker's name that now resolves to the phone
// reads /api/v1/config as its own origin. Both reach the phone and are refused; the phone's
// own pages still use the API.
func TestBrowserCannotDriveThePhoneFromAnotherSite(t *testing.T) {
	u := testUnit(t, phone.Options{})
	p, _ := u.Phone()
	p.SetHook(t.Context(), true) // an accepted reboot would wait, and show
	rec := &recordingHandler{h: newHandler(u, Options{})}
	phoneSrv := httptest.NewServer(rec)
	t.Cleanup(phoneSrv.Close)
	phoneURL := phoneSrv.URL
	port := phoneURL[strings.LastIndex(phoneURL, ":")+1:]
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<!doctype html><title>cats</title><p>cute cats")
	}))
	t.Cleanup(attacker.Close)
	attackerPort := attacker.URL[strings.LastIndex(attacker.URL, ":")+1:]

	browser := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"))
	tab := openTab(t, browser, "", "")
	tab.open(t, "http://cats.test:"+attackerPort+"/")
	for _, attack := range []struct{ path, body string }{
		{"/api/v1/reboot", "{}"},
		{"/api/v1/factory-reset", ""},
		{"/api/v1/profile", "<flat-profile><Profile_Rule>http://cats.test/evil.cfg</Profile_Rule></flat-profile>"},
	} {
		js := fmt.Sprintf(`fetch(%q, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: %q}).then(() => 1, () => 0)`,
			phoneURL+attack.path, attack.body)
		if _, err := chromedp.Run(tab.ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		seen := rec.find("POST", attack.path)
		if len(seen) != 1 || seen[0].code != http.StatusForbidden || seen[0].site == "" {
			t.Errorf("cross-site POST %s: the phone saw %+v, want one request marked cross-site and refused 403", attack.path, seen)
		}
	}
	tab.consoleErrors() // the page's failed fetches are its own business

	// DNS rebinding: rebind.test now resolves to the phone; to the browser the phone is the
	// attacker's origin, where the attacker's script runs (a document without the pages'
	// Content-Security-Policy stands in for the attacker's page of before the rebinding).
	rebind := "http://rebind.test:" + port
	if _, err := chromedp.RunResponse(tab.ctx, chromedp.Navigate(rebind+"/api/v1/status")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(tab.ctx, chromedp.Evaluate[int](`fetch("/api/v1/config").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || got != http.StatusForbidden {
		t.Errorf("a same-origin read of the rebound name = %d, %v; want 403", got, err)
	}
	if seen := rec.find("GET", "/api/v1/config"); len(seen) != 1 || !strings.HasPrefix(seen[0].host, "rebind.test") {
		t.Errorf("the phone saw %+v, want the read with the attacker's Host", seen)
	}
	tab.consoleErrors()

	// A page of the phone's own origin may use the API (the device's pages carry no script;
	// an API document is such a page).
	own := openTab(t, browser, "", "")
	// Its favicon is a 404, so no console check here.
	if resp, err := chromedp.RunResponse(own.ctx, chromedp.Navigate(phoneURL+"/api/v1/status")); err != nil {
		t.Fatalf("open the phone's API document: %v", err)
	} else if resp.Status != http.StatusOK {
		t.Fatalf("open the phone's API document: status %d", resp.Status)
	}
	got, err = chromedp.Run(own.ctx, chromedp.Evaluate[int](`fetch("/api/v1/hook", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"offhook": true}'}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || got != http.StatusOK {
		t.Errorf("the phone's own page: POST /api/v1/hook = %d, %v; want 200", got, err)
	}
	st := u.Status()
	for _, op := range st.Pending {
		if op.Op == "reboot" {
			t.Errorf("pending %+v: a cross-site request queued a reboot", op)
		}
	}
	if st.Config.Get("Profile_Rule") == "http://cats.test/evil.cfg" {
		t.Errorf("Profile_Rule %q: a cross-site request reprovisioned the phone", st.Config.Get("Profile_Rule"))
	}
}
