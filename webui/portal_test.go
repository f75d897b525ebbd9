package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spa900/spa900/internal/testlog"
	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// portalFleet starts three phones with their web servers and the fleet listener over them:
// phone 0's Profile_Rule serves an (empty) profile, phones 1 and 2's answer 404; none
// resyncs at boot.
func portalFleet(t *testing.T) (base string, units []*phone.Unit, cycles *atomic.Int32) {
	t.Helper()
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/good.cfg" {
			io.WriteString(w, "<flat-profile></flat-profile>\n")
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(prov.Close)
	var web []string
	for i := range 3 {
		rule := prov.URL + "/good.cfg"
		if i > 0 {
			rule = prov.URL + "/missing.cfg"
		}
		u := testUnit(t, phone.Options{MAC: fmt.Sprintf("00:0e:08:0a:0b:%02x", i+1), Defaults: []config.Change{
			config.Set(config.ResyncOnReset, "No"), config.Set(config.ProfileRule, rule)}})
		s, _ := testServer(t, u, "")
		web = append(web, waitListening(t, s, 1))
		units = append(units, u)
	}
	cycles = new(atomic.Int32)
	h := NewFleetHandler(units, FleetOptions{Web: web, PowerCycle: func() { cycles.Add(1) }, Logger: testlog.New(t),
		PortalInterval: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, units, cycles
}

func fleetJSON(t *testing.T, url string) (code int, body map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// TestPortalAPI: /api/v1/fleet lists the phones with their portal state and filters them;
// the actions refuse cross-site and form posts and run on every phone; /phones/{mac}/ is
// the phone's own server, its links under the prefix.
func TestPortalAPI(t *testing.T) {
	base, _, cycles := portalFleet(t)
	code, body := fleetJSON(t, base+"/api/v1/fleet")
	if code != 200 || body["total"] != 3.0 || body["counts"].(map[string]any)["running"] != 3.0 {
		t.Fatalf("GET /api/v1/fleet: %d %v", code, body)
	}
	if code, _ := fleetJSON(t, base+"/api/v1/fleet?state=nonsense"); code != 400 {
		t.Errorf("an unknown state filter: %d, want 400", code)
	}
	if _, body := fleetJSON(t, base+"/api/v1/fleet?q=0a0b02"); len(body["phones"].([]any)) != 1 {
		t.Errorf("?q=0a0b02: %v", body["phones"])
	}

	post := func(path, ctype string, hdr ...string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", ctype)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	if code, _ := post("/api/v1/fleet/resync", "application/json", "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("a cross-site resync: %d, want 403", code)
	}
	if code, _ := post("/api/v1/fleet/resync", "text/plain"); code != 415 {
		t.Errorf("a text/plain resync: %d, want 415", code)
	}
	if code, _ := post("/api/v1/fleet/nothing", "application/json"); code != 404 {
		t.Errorf("an unknown action: %d, want 404", code)
	}
	if code, m := post("/api/v1/fleet/resync", "application/json"); code != 202 || m["accepted"] != 3.0 {
		t.Errorf("resync all: %d %v", code, m)
	}
	if code, m := post("/api/v1/fleet/power-cycle", "application/json"); code != 202 || cycles.Load() != 1 {
		t.Errorf("power-cycle all: %d %v, %d power cycles", code, m, cycles.Load())
	}

	res, err := http.Get(base + "/phones/000E080A0B02/admin/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), `href="/phones/000E080A0B02/spa900.css"`) || strings.Contains(string(page), `href="/admin`) {
		t.Errorf("the phone's page through the portal: %d, links not under the prefix:\n%.2000s", res.StatusCode, page)
	}
	code, st := fleetJSON(t, base+"/phones/00:0e:08:0a:0b:03/api/v1/status")
	if code != 200 || st["mac"] != "000E080A0B03" {
		t.Errorf("the phone's API through the portal: %d %v", code, st["mac"])
	}
	if res, err := http.Get(base + "/phones/000E08FFFFFF/"); err != nil || res.StatusCode != 404 {
		t.Errorf("a phone not in the fleet: %v %v", res.StatusCode, err)
	} else {
		res.Body.Close()
	}
}

// TestPortalBrowser: the dashboard in Chromium shows the phones as a grid with their counts,
// takes a fleet-wide resync from its button (two clicks) and shows its outcome live (one
// phone provisioned, two failed), filters by state and by text, and its cells lead to each
// phone's own pages.
func TestPortalBrowser(t *testing.T) {
	base, _, _ := portalFleet(t)
	browser := newBrowser(t)
	tab := openTab(t, browser, "", "")
	tab.open(t, base+"/")
	waitJS := func(what, expr string) {
		t.Helper()
		// The page is live: wait in the page for what the stream brings.
		js := fmt.Sprintf(`new Promise((ok, fail) => { const t0 = Date.now(); (function poll() {
			if (%s) return ok(1); if (Date.now() - t0 > 20000) return fail(new Error("timeout")); setTimeout(poll, 20); })(); })`, expr)
		if _, err := chromedp.Run(tab.ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise)); err != nil {
			state, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("the dashboard never showed %s: %v\n%s", what, err, state)
		}
	}
	waitJS("three running phones", `document.querySelectorAll("#grid .cell.s-running").length === 3 && document.getElementById("live").textContent === "live"`)
	if n := tab.eval(t, `Number(document.querySelector('#counts button[data-state="running"] .n').textContent)`); n != 3 {
		t.Errorf("running count %d, want 3", n)
	}

	btn := `button[data-action="resync"]`
	if err := chromedp.Do(tab.ctx, chromedp.Click(chromedp.CSS(btn))); err != nil {
		t.Fatal(err)
	}
	waitJS("the resync button asking again", `document.querySelector('`+btn+`').classList.contains("confirm")`)
	if err := chromedp.Do(tab.ctx, chromedp.Click(chromedp.CSS(btn))); err != nil {
		t.Fatal(err)
	}
	waitJS("the resync's outcome", `document.querySelectorAll("#grid .cell.s-failed").length === 2 && document.querySelectorAll("#grid .cell.s-provisioned").length === 1`)
	waitJS("the counts", `document.querySelector('#counts button[data-state="failed"] .n').textContent === "2"`)
	if got, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`document.getElementById("result").textContent`)); got != "resync: 3 of 3 phones" {
		t.Errorf("result %q", got)
	}
	if mac, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`document.querySelector("#grid .cell.s-provisioned").dataset.mac`)); mac != "000E080A0B01" {
		t.Errorf("the provisioned phone is %s, want 000E080A0B01", mac)
	}

	// Filters: a state's count button, then the text box.
	if err := chromedp.Do(tab.ctx, chromedp.Click(chromedp.CSS(`#counts button[data-state="failed"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS("only the failed phones", `document.querySelectorAll("#grid .cell:not(.hidden)").length === 2`)
	if err := chromedp.Do(tab.ctx, chromedp.Click(chromedp.CSS(`#counts button[data-state="failed"]`))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab.ctx, chromedp.SendKeys(chromedp.ID("q"), "0a0b03")); err != nil {
		t.Fatal(err)
	}
	waitJS("the phone the text names", `(() => { const v = document.querySelectorAll("#grid .cell:not(.hidden)"); return v.length === 1 && v[0].dataset.mac === "000E080A0B03"; })()`)

	// A cell leads to the phone's own pages, served through the portal.
	href, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`document.querySelector("#grid .cell:not(.hidden)").getAttribute("href")`))
	if err != nil || href != "/phones/000E080A0B03/" {
		t.Fatalf("the cell's link %q (%v)", href, err)
	}
	tab.open(t, base+href+"admin/")
	if n := tab.eval(t, `Array.from(document.styleSheets).filter(s => s.href && s.href.includes("/phones/000E080A0B03/spa900.css") && s.cssRules.length > 0).length`); n != 1 {
		t.Errorf("the phone's page through the portal did not load its style sheet under the prefix")
	}
	if ctx := context.Cause(tab.ctx); ctx != nil {
		t.Fatal(ctx)
	}
}
