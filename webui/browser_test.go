package webui

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// The pages in a real browser: headless Chromium driven over the DevTools protocol.

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium for the test and returns the context of its first tab,
// from which openTab opens more; or it skips the test when it is not
// installed (fails under CI=true).
func newBrowser(t *testing.T) context.Context {
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

// TestBrowser drives the pages of a SPA942 with an admin password in headless Chromium: each
// tab of the admin's advanced view loads without a console error and is photographed
// (testdata/screenshots, with -update); an edit on the Ext 1 tab survives Submit and reload;
// Undo resets the form; markup in values is text; the user account does not see a ua="na"
// parameter.
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

	t.Run("every admin tab", func(t *testing.T) {
		v := view{admin: true, advanced: true}
		for _, path := range []string{"/admin/", "/admin/basic?tab=Ext_1"} {
			admin.open(t, srv.URL+path)
		}
		for _, tab := range v.tabs(u.Status().Config) {
			admin.open(t, srv.URL+v.tabHref(tab))
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

	t.Run("edit, submit, reload", func(t *testing.T) {
		page := srv.URL + "/admin/advanced?tab=Ext_1"
		admin.open(t, page)
		if err := chromedp.Do(admin.ctx, chromedp.SetValue(chromedp.ID(display1), "Reception Desk")); err != nil {
			t.Fatal(err)
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
		if len(saved) != 1 || saved[0] != display1 {
			t.Errorf("result page lists %v, want only %s", saved, display1)
		}
		admin.checkConsole(t, "result page")
		settle(t, u)
		cfg := u.Status().Config
		if got := cfg.Get(display1); got != "Reception Desk" {
			t.Fatalf("%s = %q after submit", display1, got)
		}
		// The untouched password input kept the SIP password.
		if got := cfg.Get(config.ExtName(config.Password, 1)); got != "sip-secret" {
			t.Errorf("the untouched password input changed the secret to %q", got)
		}
		admin.open(t, page)
		if got := admin.value(t, display1); got != "Reception Desk" {
			t.Errorf("after reload %s = %q, want the submitted value", display1, got)
		}
	})

	t.Run("undo resets the form", func(t *testing.T) {
		admin.open(t, srv.URL+"/admin/advanced?tab=Ext_1")
		err := chromedp.Do(admin.ctx,
			chromedp.SetValue(chromedp.ID(display1), "not kept"),
			chromedp.Click(chromedp.CSS(`input[type="reset"]`)),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got := admin.value(t, display1); got != "Reception Desk" {
			t.Errorf("after Undo %s = %q, want the value in force", display1, got)
		}
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
		info, err := chromedp.Run(admin.ctx, chromedp.Text(chromedp.CSS("table.sec")))
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
		if n := user.eval(t, fmt.Sprintf(`document.getElementsByName(%q).length + (document.getElementById(%q) ? 1 : 0)`, userID1, userID1)); n != 0 {
			t.Errorf("the user page has %s", userID1)
		}
		body, err := chromedp.Run(user.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(body, "1001-hidden") || strings.Contains(body, "User ID:") {
			t.Error("the user page shows the na parameter's value or label")
		}
		if !strings.Contains(body, "Display Name:") {
			t.Error("the user page lacks the ro parameter Display Name")
		}
		if n := user.eval(t, `document.querySelectorAll("a[href*='Provisioning']").length`); n != 0 {
			t.Error("the user page links the Provisioning tab")
		}
		for _, path := range []string{"/", "/basic", "/advanced", "/advanced?tab=System", "/advanced?tab=User", "/pdir.htm", "/calllog.htm"} {
			user.open(t, srv.URL+path)
		}
	})

}
