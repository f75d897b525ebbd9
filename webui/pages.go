package webui

import (
	"net/http"
	"slices"
	"sync"

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
// A view is one page and one form holding every tab, as on the device: the tab row shows
// one tab at a time and "Submit All Changes applies every tab's edits at once"; only
// switching view or level discards edits not submitted (SPA-BEHAVIOUR §5.2). The tabs
// switch in the browser without script (the pages forbid scripts): a radio input per tab
// stands before the tab row and the tabs' panels, the tabs of the row are its labels, and
// the style sheet shows the panel of the checked one and marks its label. The radio
// inputs are outside the form, so a post carries parameters only. ?tab=<Tab> names the tab
// shown when the page loads (Info when absent), e.g. /admin/advanced?tab=Ext_1, so that a
// tab can be linked and bookmarked; a tab the view does not have is 404.
//
// A view's parameter tabs depend only on the configuration, an immutable snapshot: they
// are rendered once per snapshot and view and kept (viewCache), and only the live Info tab
// is rendered at each request.
//
// What each view shows:
//   - advanced: every tab of the model in the device's order (Info, System, SIP,
//     Provisioning, Regional, Phone, Ext 1..n, User, and SPA932 on the SPA962), every
//     catalogue parameter that is not profile-only on its tab and section;
//   - basic: the settings that bring a phone into service (config.InBasicView): Info, System, each Ext n with its
//     General, Proxy and Registration, Subscriber Information and Dial Plan sections, and
//     User with Call Forward, Speed Dial, Supplementary Services and Audio Volume;
//   - the Provisioning tab only in the admin's advanced view;
//   - for the user account, only parameters whose access is ro (shown as text) or rw (an
//     input); a tab or section with nothing to show is left out.

// infoTabName is the first tab of every view: the read-only status (SPA-BEHAVIOUR §9).
const infoTabName = config.TabInfo

// showsTab reports whether the view has the tab at all (before account filtering).
func (v view) showsTab(tab string) bool {
	switch {
	case tab == config.TabProvisioning:
		return v.admin && v.advanced
	case v.advanced:
		return true
	}
	return config.InBasicView(tab, "")
}

// showsSection reports whether the view shows a section of a tab.
func (v view) showsSection(tab, sec string) bool {
	return v.advanced || config.InBasicView(tab, sec)
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
func (t *routeTable) pageRoutes() {
	user, userAdv := view{}, view{advanced: true}
	admin, adminAdv := view{admin: true}, view{admin: true, advanced: true}
	t.mux.Handle("GET /{$}", serve(viewPage(user)))
	t.mux.Handle("GET /basic", serve(viewPage(user)))
	t.mux.Handle("GET /advanced", serve(viewPage(userAdv)))
	t.mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	t.mux.Handle("GET /admin/{$}", serve(viewPage(admin)))
	t.mux.Handle("GET /admin/basic", serve(viewPage(admin)))
	t.mux.Handle("GET /admin/advanced", serve(viewPage(adminAdv)))
	t.mux.Handle("POST /bsipura.spa", serve(submit(false)))
	t.mux.Handle("POST /admin/bsipura.spa", serve(submit(true)))
	t.mux.Handle("GET /pdir.htm", serve((*handler).pdirPage))
	t.mux.Handle("GET /calllog.htm", serve((*handler).callLogPage))
	t.mux.HandleFunc("GET "+stylePath, serveStyle)
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

// viewPage serves one view, showing first the tab named by ?tab= (Info when absent).
func viewPage(v view) route {
	return func(h *handler, w http.ResponseWriter, r *http.Request) error {
		st := h.allow(w, r, v.admin)
		if st == nil {
			return nil
		}
		tab := r.URL.Query().Get("tab")
		if tab == "" {
			tab = infoTabName
		}
		vp, err := h.views.panels(st.Config, v)
		if err != nil {
			return httpError(http.StatusInternalServerError, err, "render page")
		}
		d, ok := viewData(st, v, tab, vp)
		if !ok {
			return httpError(http.StatusNotFound, nil, "no tab %q in this view", clip(tab, 40))
		}
		return render(w, http.StatusOK, d)
	}
}

// viewCache keeps, for each of the four views, the parameter tabs rendered from the last
// configuration snapshot it was asked for. A snapshot is immutable, so the tabs of one are
// rendered once; an entry is used only for the very snapshot (pointer) and the view it was
// rendered for, so a changed configuration is never shown stale and no view (the user's
// leave out what the user account may not see) is ever served another view's tabs. It
// holds at most four entries. One per handler; safe for concurrent use.
type viewCache struct {
	mu      sync.Mutex
	entries [4]*viewPanels // guarded by mu; by view.index
}

// panels returns the rendered tabs of view v of snap, from the cache or rendered now.
// Requests that miss together each render (outside the lock, so no request waits for
// another's rendering), and the last one stays.
func (c *viewCache) panels(snap *config.Snapshot, v view) (*viewPanels, error) {
	c.mu.Lock()
	vp := c.entries[v.index()]
	c.mu.Unlock()
	if vp != nil && vp.snap == snap {
		return vp, nil
	}
	vp, err := renderPanels(snap, v)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[v.index()] = vp
	c.mu.Unlock()
	return vp, nil
}

// viewData builds the page of view v, with its parameter tabs vp rendered from st.Config and
// tab shown first; false when the view has no such tab.
func viewData(st *phone.Status, v view, tab string, vp *viewPanels) (*pageData, bool) {
	if !slices.Contains(vp.tabs, tab) {
		return nil, false
	}
	d := frame(st, v, tab, vp.tabs)
	d.Title = tabLabel(tab)
	d.Body = bodyView
	d.Info = infoTab(st)
	d.Panels, d.Editable = vp.html, vp.editable
	d.Action = "bsipura.spa"
	return d, true
}

// frame fills what every page of a view has: header, level and view links, the tab row with
// current marked (none when current is "").
func frame(st *phone.Status, v view, current string, tabs []string) *pageData {
	d := &pageData{Product: st.Model, Version: st.Software, Admin: v.admin, Advanced: v.advanced, Nav: navFor(v)}
	for _, t := range tabs {
		d.Tabs = append(d.Tabs, tabLink{Name: t, Label: tabLabel(t), Href: v.tabHref(t), Current: t == current})
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
