package webui

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// The pages in a real browser: headless Chromium driven over the DevTools protocol.

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium for the test and returns the context of its first tab,
// from which openTab opens more; or it skips the test when it is not
// installed (fails under CI=true).
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required under CI: %v", err)
		}
		t.Skipf("chromium not found at %s (sudo apt-get install chromium): %v", chromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	opts = append(opts, extra...)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	// The first tab starts the browser; tabs opened from its context share the process.
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// browserTab is one tab of the browser, logged in as an account (or as nobody), that
// records every console error, uncaught exception and error entry of the browser's log.
type browserTab struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// openTab opens a tab; with a password it sends Basic credentials with every request, as a
// browser does once its user has answered the prompt.
func openTab(t *testing.T, browser context.Context, user, pass string) *browserTab {
	t.Helper()
	bt := &browserTab{}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithListener(bt.listen))
	t.Cleanup(cancel)
	bt.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if pass != "" {
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"Authorization": auth},
			})
			return err
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	return bt
}

// listen runs in the tab's event loop: it only records.
func (bt *browserTab) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			msg = fmt.Sprintf("console.%s", ev.Type)
		}
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			msg = fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if msg != "" {
		bt.mu.Lock()
		bt.errors = append(bt.errors, msg)
		bt.mu.Unlock()
	}
}

// consoleErrors returns and forgets the errors recorded so far.
func (bt *browserTab) consoleErrors() []string {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	e := bt.errors
	bt.errors = nil
	return e
}

// open navigates to a page that must load with 200 and no console error.
func (bt *browserTab) open(t *testing.T, url string) {
	t.Helper()
	resp, err := chromedp.RunResponse(bt.ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("open %s: status %d", url, resp.Status)
	}
	bt.checkConsole(t, url)
}

// checkConsole fails on the console errors of a page. The page has loaded when Navigate
// returns; a round trip to the page makes sure its load events were delivered.
func (bt *browserTab) checkConsole(t *testing.T, page string) {
	t.Helper()
	if _, err := chromedp.Run(bt.ctx, chromedp.Evaluate[string]("document.readyState")); err != nil {
		t.Fatal(err)
	}
	for _, e := range bt.consoleErrors() {
		t.Errorf("%s: %s", page, e)
	}
}

func (bt *browserTab) eval(t *testing.T, expr string) int {
	t.Helper()
	n, err := chromedp.Run(bt.ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return n
}

func (bt *browserTab) value(t *testing.T, id string) string {
	t.Helper()
	v, err := chromedp.Run(bt.ctx, chromedp.Value(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("value of #%s: %v", id, err)
	}
	return v
}

// shownTabs returns the tabs of a view's page whose panel is displayed and the tabs whose
// label in the tab row is marked as the current one.
func (bt *browserTab) shownTabs(t *testing.T) (shown, marked []string) {
	t.Helper()
	shown, err := chromedp.Run(bt.ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("div.panel")).filter(p => getComputedStyle(p).display !== "none").map(p => p.id.replace(/^panel-/, ""))`))
	if err != nil {
		t.Fatal(err)
	}
	marked, err = chromedp.Run(bt.ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(".bar label.tab")).filter(l => getComputedStyle(l).backgroundColor === "rgb(102, 102, 204)").map(l => l.htmlFor.replace(/^tab-/, ""))`))
	if err != nil {
		t.Fatal(err)
	}
	return shown, marked
}

// wantTab fails unless the page shows exactly tab, with its label marked.
func (bt *browserTab) wantTab(t *testing.T, tab string) {
	t.Helper()
	shown, marked := bt.shownTabs(t)
	if len(shown) != 1 || shown[0] != tab || len(marked) != 1 || marked[0] != tab {
		t.Fatalf("the page shows the panels %v with the labels %v marked, want %s alone", shown, marked, tab)
	}
}

// clickTab clicks the label of a tab in the tab row: the page shows that tab, without a
// request (the page carries no script, so this is the style sheet at work).
func (bt *browserTab) clickTab(t *testing.T, tab string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bt.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.bar label[for="tab-`+tab+`"]`))); err != nil {
		t.Fatalf("click the %s tab: %v", tab, err)
	}
	bt.wantTab(t, tab)
}

// typeInto replaces the value of a text input by typing, as a user does: the input must be
// on the tab shown (a hidden input cannot be typed into).
func (bt *browserTab) typeInto(t *testing.T, id, text string) {
	t.Helper()
	visible := bt.eval(t, fmt.Sprintf(`document.getElementById(%q).getClientRects().length`, id))
	if visible == 0 {
		t.Fatalf("#%s is not shown", id)
	}
	// Select the old value, so that the keys replace it.
	if _, err := chromedp.Run(bt.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(document.getElementById(%q).select(), true)`, id))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bt.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID(id), text)); err != nil {
		t.Fatalf("type into #%s: %v", id, err)
	}
	if got := bt.value(t, id); got != text {
		t.Fatalf("#%s holds %q after typing %q", id, got, text)
	}
}

// TestBrowser drives the pages of a SPA942 with an admin password in headless Chromium: each
// tab of the admin's advanced view, chosen with ?tab= or by its label in the tab row, is
// shown alone without script and without a console error, and is photographed
// (testdata/screenshots, with -update); edits on two tabs survive one Submit All Changes and
// a reload; Undo resets the edits of every tab; markup in values is text; the user account
// does not see a ua="na" parameter.
func TestBrowser(t *testing.T) {
	browser := newBrowser(t)
	const adminPw = "adm-pw"
	u := testUnit(t, phone.Options{Model: "SPA942", MAC: "00:0e:08:12:34:56",
		Defaults: []config.Change{config.Set(config.AdminPasswd, adminPw)}})
	_, srv := testHandler(t, u)
	p, err := u.Phone()
	if err != nil {
		t.Fatal(err)
	}
	display1 := config.ExtName(config.DisplayName, 1)
	display2 := config.ExtName(config.DisplayName, 2)
	userID1 := config.ExtName(config.UserID, 1)
	const speedDial = "Speed_Dial_2" // on the User tab
	// A phone in service, as a reviewer of the screenshots expects one.
	_, err = p.Apply(t.Context(), "test", []config.Change{
		config.Set(display1, "Reception"), config.Set(userID1, "1001"),
		config.Set(config.ExtName(config.Password, 1), "sip-secret"),
		config.Set(config.ExtName(config.Proxy, 1), "pbx.example.com"),
		config.Set(config.ProfileRule, "http://prov.example.com/spa$MA.xml"),
	}, config.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, u)

	admin := openTab(t, browser, "admin", adminPw)
	v := view{admin: true, advanced: true}
	tabs := v.tabs(u.Status().Config)

	t.Run("every admin tab", func(t *testing.T) {
		for _, path := range []string{"/admin/", "/admin/basic?tab=Ext_1"} {
			admin.open(t, srv.URL+path)
		}
		admin.wantTab(t, "Ext_1")
		for _, tab := range tabs {
			admin.open(t, srv.URL+v.tabHref(tab))
			admin.wantTab(t, tab)
			if !*updateGolden {
				continue
			}
			png, err := chromedp.Run(admin.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "screenshots", "spa942-admin-advanced-"+tab+".png")
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("the tab row switches tabs", func(t *testing.T) {
		admin.open(t, srv.URL+v.path())
		admin.wantTab(t, infoTabName)
		for _, tab := range append(slices.Clone(tabs[1:]), infoTabName) {
			admin.clickTab(t, tab)
		}
		// The radio inputs are out of sight but keep the keyboard: the arrow keys move
		// from tab to tab.
		err := chromedp.Do(admin.ctx, chromedp.Focus(chromedp.ID("tab-Info")), chromedp.KeyEvent(kb.ArrowRight))
		if err != nil {
			t.Fatal(err)
		}
		admin.wantTab(t, tabs[1])
		admin.checkConsole(t, "the tab row")
	})

	t.Run("edits on two tabs, one submit, reload", func(t *testing.T) {
		page := srv.URL + "/admin/advanced?tab=Ext_1"
		admin.open(t, page)
		admin.typeInto(t, display1, "Reception Desk")
		admin.clickTab(t, "User")
		admin.typeInto(t, speedDial, "1002")
		// The edit on the tab no longer shown is still in the form.
		if got := admin.value(t, display1); got != "Reception Desk" {
			t.Fatalf("after switching tabs %s = %q", display1, got)
		}
		resp, err := chromedp.RunResponse(admin.ctx, chromedp.Click(chromedp.CSS(`input[type="submit"]`)))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("submit answered %d", resp.Status)
		}
		saved, err := chromedp.Run(admin.ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll("tr.changed")).map(r => r.dataset.param)`))
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{display1, speedDial}; !slices.Equal(saved, want) {
			t.Errorf("result page lists %v, want %v", saved, want)
		}
		admin.checkConsole(t, "result page")
		settle(t, u)
		cfg := u.Status().Config
		if got := cfg.Get(display1); got != "Reception Desk" {
			t.Errorf("%s = %q after submit", display1, got)
		}
		if got := cfg.Get(speedDial); got != "1002" {
			t.Errorf("%s = %q after submit", speedDial, got)
		}
		// The untouched password input kept the SIP password.
		if got := cfg.Get(config.ExtName(config.Password, 1)); got != "sip-secret" {
			t.Errorf("the untouched password input changed the secret to %q", got)
		}
		admin.open(t, page)
		admin.wantTab(t, "Ext_1")
		if got := admin.value(t, display1); got != "Reception Desk" {
			t.Errorf("after reload %s = %q, want the submitted value", display1, got)
		}
		admin.clickTab(t, "User")
		if got := admin.value(t, speedDial); got != "1002" {
			t.Errorf("after reload %s = %q, want the submitted value", speedDial, got)
		}
	})

	t.Run("undo resets every tab", func(t *testing.T) {
		admin.open(t, srv.URL+"/admin/advanced?tab=Ext_1")
		admin.typeInto(t, display1, "not kept")
		admin.clickTab(t, "User")
		admin.typeInto(t, speedDial, "9999")
		if err := chromedp.Do(admin.ctx, chromedp.Click(chromedp.CSS(`input[type="reset"]`))); err != nil {
			t.Fatal(err)
		}
		if got := admin.value(t, display1); got != "Reception Desk" {
			t.Errorf("after Undo %s = %q, want the value in force", display1, got)
		}
		if got := admin.value(t, speedDial); got != "1002" {
			t.Errorf("after Undo %s = %q, want the value in force", speedDial, got)
		}
		// Undo resets the form, not the tab shown.
		admin.wantTab(t, "User")
	})

	t.Run("markup is text", func(t *testing.T) {
		markup := `<img src=x onerror="alert(1)"><script>alert(2)</script>&amp;`
		prof := fmt.Sprintf("<flat-profile><%[1]s>%[2]s</%[1]s><%[3]s>%[2]s</%[3]s></flat-profile>", display2,
			"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;&amp;amp;", config.HostName)
		if _, err := p.ApplyProfile(t.Context(), "test", []byte(prof)); err != nil {
			t.Fatal(err)
		}
		settle(t, u)
		if got := u.Status().Config.Get(display2); got != markup {
			t.Fatalf("profile set %q, want %q", got, markup)
		}
		admin.open(t, srv.URL+"/admin/advanced?tab=Ext_2")
		if got := admin.value(t, display2); got != markup {
			t.Errorf("input shows %q, want %q", got, markup)
		}
		if n := admin.eval(t, `document.querySelectorAll("img, script").length`); n != 0 {
			t.Errorf("the page has %d img/script elements", n)
		}
		admin.open(t, srv.URL+"/admin/advanced")
		info, err := chromedp.Run(admin.ctx, chromedp.Text(chromedp.CSS("#panel-Info table.sec")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(info, markup) {
			t.Errorf("Info tab does not show the host name as text:\n%s", info)
		}
		if n := admin.eval(t, `document.querySelectorAll("img, script").length`); n != 0 {
			t.Errorf("the Info tab has %d img/script elements", n)
		}
	})

	t.Run("user does not see an na parameter", func(t *testing.T) {
		prof := fmt.Sprintf(`<flat-profile><%[1]s ua="na">1001-hidden</%[1]s></flat-profile>`, userID1)
		if _, err := p.ApplyProfile(t.Context(), "test", []byte(prof)); err != nil {
			t.Fatal(err)
		}
		settle(t, u)
		user := openTab(t, browser, "", "")
		user.open(t, srv.URL+"/advanced?tab=Ext_1")
		user.wantTab(t, "Ext_1")
		if n := user.eval(t, fmt.Sprintf(`document.getElementsByName(%q).length + (document.getElementById(%q) ? 1 : 0)`, userID1, userID1)); n != 0 {
			t.Errorf("the user page has %s", userID1)
		}
		body, err := chromedp.Run(user.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		ext1, err := chromedp.Run(user.ctx, chromedp.OuterHTML(chromedp.ID("panel-Ext_1")))
		if err != nil {
			t.Fatal(err)
		}
		// User ID is ro on the other Ext tabs: it is the label on Ext 1 that must be gone.
		if strings.Contains(body, "1001-hidden") || strings.Contains(ext1, "User ID:") {
			t.Error("the user page shows the na parameter's value or label")
		}
		if !strings.Contains(ext1, "Display Name:") {
			t.Error("the user page lacks the ro parameter Display Name")
		}
		if n := user.eval(t, `document.querySelectorAll("#tab-Provisioning, #panel-Provisioning, a[href*='Provisioning']").length`); n != 0 {
			t.Error("the user page has the Provisioning tab")
		}
		user.clickTab(t, "User")
		for _, path := range []string{"/", "/basic", "/advanced", "/advanced?tab=System", "/advanced?tab=User", "/pdir.htm", "/calllog.htm"} {
			user.open(t, srv.URL+path)
		}
	})
}
