package webui

import (
	"net/http"
	"strings"
	"time"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// The device's own pages (SPA-BEHAVIOUR §5.2):
//
//	/ and /basic, /advanced              the user account's views
//	/admin/ and /admin/basic, /admin/advanced   the admin account's views
//	POST /bsipura.spa, /admin/bsipura.spa       Submit All Changes (forms.go)
//	/pdir.htm, /calllog.htm              personal directory, call history
//
// "/" opens the basic view, as "/admin/" does; the advanced views are asked for by name,
// as admins do with /admin/advanced.
//
// Tabs are separate pages of a view: the Info tab at the view's URL, the others at
// ?tab=<Tab>, e.g. /admin/advanced?tab=Ext_1. A page is small and quick to render, works
// without script in any browser, and can be bookmarked; Submit All Changes sends the
// fields of the tab shown, and edits not submitted are discarded when another tab is
// opened, as they are when the view or level is switched on the device.
//
// What each view shows:
//   - advanced: every tab of the model in the device's order (Info, System, SIP,
//     Provisioning, Regional, Phone, Ext 1..n, User, and SPA932 on the SPA962), every
//     catalogue parameter that is not profile-only on its tab and section;
//   - basic: the settings that bring a phone into service: Info, System, each Ext n with its
//     General, Proxy and Registration, Subscriber Information and Dial Plan sections, and
//     User with Call Forward, Speed Dial, Supplementary Services and Audio Volume;
//   - the Provisioning tab only in the admin's advanced view;
//   - for the user account, only parameters whose access is ro (shown as text) or rw (an
//     input); a tab or section with nothing to show is left out.

// infoTabName is the first tab of every view: the read-only status (SPA-BEHAVIOUR §9).
const infoTabName = "Info"

// provisioningTab is shown only in the admin's advanced view (SPA-BEHAVIOUR §5.2).
const provisioningTab = "Provisioning"

// basicSections lists, per tab, the sections of the basic views; a tab that is not listed
// is not in the basic views, a nil list means every section. Ext tabs are listed under
// "Ext_" (see basicKey).
var basicSections = map[string][]string{
	"System": nil,
	"Ext_":   {"General", "Proxy_and_Registration", "Subscriber_Information", "Dial_Plan"},
	"User":   {"Call_Forward", "Speed_Dial", "Supplementary_Services", "Audio_Volume"},
}

// basicKey is the key of a tab in basicSections.
func basicKey(tab string) string {
	if strings.HasPrefix(tab, "Ext_") {
		return "Ext_"
	}
	return tab
}

// showsTab reports whether the view has the tab at all (before account filtering).
func (v view) showsTab(tab string) bool {
	switch {
	case tab == infoTabName:
		return true
	case tab == provisioningTab:
		return v.admin && v.advanced
	case v.advanced:
		return true
	}
	_, ok := basicSections[basicKey(tab)]
	return ok
}

// showsSection reports whether the view shows a section of a tab.
func (v view) showsSection(tab, sec string) bool {
	if v.advanced {
		return true
	}
	secs, ok := basicSections[basicKey(tab)]
	if !ok {
		return false
	}
	if secs == nil {
		return true
	}
	for _, s := range secs {
		if s == sec {
			return true
		}
	}
	return false
}

// tabs returns the tabs of the view in the device's order. For the user account a tab
// without any parameter the account may see is left out.
func (v view) tabs(snap *config.Snapshot) []string {
	cat := snap.Catalog()
	out := []string{infoTabName}
	var visible map[string]bool
	if !v.admin {
		visible = map[string]bool{}
		params := cat.Params()
		for i := range params {
			p := &params[i]
			if !p.Hidden && snap.AccessAt(i).UserCanRead() && v.showsSection(p.Tab(), p.Section()) {
				visible[p.Tab()] = true
			}
		}
	}
	for _, t := range cat.Tabs() {
		if v.showsTab(t) && (v.admin || visible[t]) {
			out = append(out, t)
		}
	}
	return out
}

// pageRoutes registers the device's pages on the handler's mux.
func (h *handler) pageRoutes() {
	user, userAdv := view{}, view{advanced: true}
	admin, adminAdv := view{admin: true}, view{admin: true, advanced: true}
	h.mux.Handle("GET /{$}", h.handle(h.viewPage(user)))
	h.mux.Handle("GET /basic", h.handle(h.viewPage(user)))
	h.mux.Handle("GET /advanced", h.handle(h.viewPage(userAdv)))
	h.mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	h.mux.Handle("GET /admin/{$}", h.handle(h.viewPage(admin)))
	h.mux.Handle("GET /admin/basic", h.handle(h.viewPage(admin)))
	h.mux.Handle("GET /admin/advanced", h.handle(h.viewPage(adminAdv)))
	h.mux.Handle("POST /bsipura.spa", h.handle(h.submit(false)))
	h.mux.Handle("POST /admin/bsipura.spa", h.handle(h.submit(true)))
	h.mux.Handle("GET /pdir.htm", h.handle(h.pdirPage))
	h.mux.Handle("GET /calllog.htm", h.handle(h.callLogPage))
	h.mux.HandleFunc("GET "+stylePath, serveStyle)
}

// allow authenticates a request for a page of level admin (or user): for the admin pages
// Enable_Web_Admin_Access must be Yes (SPA-BEHAVIOUR §5.1). It returns the phone's status,
// or nil when the response has been written (401, 403, or 503 while the phone boots).
func (h *handler) allow(w http.ResponseWriter, r *http.Request, admin bool) *phone.Status {
	need := AccountUser
	if admin {
		if !h.adminAllowed(w, r) {
			return nil
		}
		need = AccountAdmin
	}
	if _, ok := h.authenticate(w, r, need); !ok {
		return nil
	}
	st := h.unit.Status()
	if st == nil || st.Config == nil {
		writeError(w, r, http.StatusServiceUnavailable, phone.ErrBooting.Error())
		return nil
	}
	return st
}

// viewPage serves one view: the tab named by ?tab= (Info when absent).
func (h *handler) viewPage(v view) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st := h.allow(w, r, v.admin)
		if st == nil {
			return nil
		}
		tab := r.URL.Query().Get("tab")
		if tab == "" {
			tab = infoTabName
		}
		if tab == infoTabName {
			st = liveClock(st, time.Now())
		}
		d, ok := tabPage(st, v, tab)
		if !ok {
			return httpError(http.StatusNotFound, nil, "no tab %q in this view", clip(tab, 40))
		}
		return render(w, http.StatusOK, d)
	}
}

// liveClock returns st with the Info tab's clock fields brought to now. The phone publishes
// its status when something happens, not every second, and the Info tab is read afresh at
// each reload (SPA-BEHAVIOUR §9); the current time is the host's (DECISIONS 20), and the
// elapsed time grows with it from the status's own reading.
func liveClock(st *phone.Status, now time.Time) *phone.Status {
	if st.Info.CurrentTime.IsZero() || now.Before(st.Info.CurrentTime) {
		return st
	}
	cp := *st
	if !st.BootedAt.IsZero() {
		cp.Info.Elapsed += now.Sub(st.Info.CurrentTime)
	}
	cp.Info.CurrentTime = now
	return &cp
}

// tabPage builds the page of one tab of a view; false when the view has no such tab.
func tabPage(st *phone.Status, v view, tab string) (*pageData, bool) {
	tabs := v.tabs(st.Config)
	found := false
	for _, t := range tabs {
		if t == tab {
			found = true
			break
		}
	}
	if !found {
		return nil, false
	}
	d := frame(st, v, tab, tabs)
	d.Title = tabLabel(tab)
	if tab == infoTabName {
		d.Body = bodyInfo
		d.Info = infoTab(st)
		return d, true
	}
	d.Body = bodyParams
	d.Action = "bsipura.spa"
	d.Sections, d.Editable = paramTab(st.Config, tab, v)
	return d, true
}

// frame fills what every page of a view has: header, level and view links, the tab row with
// current marked (none when current is "").
func frame(st *phone.Status, v view, current string, tabs []string) *pageData {
	d := &pageData{Product: st.Model, Version: st.Software, Admin: v.admin, Advanced: v.advanced, Nav: navFor(v)}
	for _, t := range tabs {
		d.Tabs = append(d.Tabs, tabLink{Label: tabLabel(t), Href: v.tabHref(t), Current: t == current})
	}
	return d
}

// pdirPage serves the personal directory (SPA-BEHAVIOUR §5.2, entries "n=<name>;p=<number>").
// The emulated phone keeps no personal directory yet, so the page shows it empty: it lists
// what exists, and nothing exists.
func (h *handler) pdirPage(w http.ResponseWriter, r *http.Request) error {
	st := h.allow(w, r, false)
	if st == nil {
		return nil
	}
	d := frame(st, view{}, "", view{}.tabs(st.Config))
	d.Body, d.Title = bodyPdir, "Personal Directory"
	return render(w, http.StatusOK, d)
}

// callLogPage serves the call history (SPA-BEHAVIOUR §5.2): the redial list, answered and
// missed calls. The phone records no calls yet, so the lists are empty.
func (h *handler) callLogPage(w http.ResponseWriter, r *http.Request) error {
	st := h.allow(w, r, false)
	if st == nil {
		return nil
	}
	d := frame(st, view{}, "", view{}.tabs(st.Config))
	d.Body, d.Title = bodyCallLog, "Call History"
	d.CallLists = []callList{{Title: "Redial List"}, {Title: "Answered Calls"}, {Title: "Missed Calls"}}
	return render(w, http.StatusOK, d)
}

// serveStyle serves the embedded style sheet. It holds nothing private and is served
// without credentials, so that the browser may cache it.
func serveStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(styleSheet)
}
