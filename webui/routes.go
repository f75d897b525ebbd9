package webui

import (
	"net/http"
	"slices"
	"strings"

	"github.com/spa900/spa900/provisioning/config"
)

// Body limits of the API's POSTs.
const (
	maxProfileBody = 1 << 20  // a full SPA962 profile is about 60 KiB
	maxJSONBody    = 64 << 10 // the small JSON requests
)

// routeTable is the routes of a phone's web server: the device's pages and action URLs (mux)
// and the automation API (api). It is built once per fleet ([Hub]) or once per single
// phone, and never changed after; each request carries the phone it is for (handlerOf).
// Building one costs about 0.2 ms of CPU and 20 KB (net/http parses and records every
// pattern with its caller): per phone it was 6% of a re-triggered storm's CPU.
type routeTable struct {
	mux *http.ServeMux // the device's own pages and action URLs
	api *http.ServeMux // the automation API under /api/
}

// newRouteTable builds the table.
func newRouteTable() *routeTable {
	t := &routeTable{mux: http.NewServeMux(), api: http.NewServeMux()}
	t.routes()
	return t
}

// routes registers every route of the table: the device's action URLs and export
// (SPA-BEHAVIOUR §5.3, §5.4), the pages (pages.go) and the automation API.
//
// Every device pattern names its method, so that it never conflicts with the pages' own
// patterns (net/http: a method-less pattern and a method pattern on an overlapping path
// conflict).
func (t *routeTable) routes() {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		t.mux.Handle(m+" /admin/reboot", serve(adminOnly((*handler).rebootURL)))
		t.mux.Handle(m+" /admin/resync", serve(adminOnly((*handler).resyncURL)))
		t.mux.Handle(m+" /admin/upgrade", serve(adminOnly((*handler).upgradeURL)))
		t.mux.Handle(m+" /upgrade", serve(adminOnly((*handler).upgradeURL))) // Sipura form [S7 p41]
	}
	t.mux.Handle("GET /admin/spacfg.xml", serve((*handler).spacfgXML))
	t.mux.Handle("GET "+HealthPath, plain((*handler).health))   // health.go: container health checks
	t.mux.Handle("GET /metrics", serve((*handler).metricsPage)) // Options.Metrics
	t.pageRoutes()

	t.apiRoute("/api/v1/status", (*handler).apiStatus, 0, http.MethodGet, http.MethodHead)
	t.apiRoute("/api/v1/config", (*handler).apiConfig, 0, http.MethodGet, http.MethodHead)
	t.apiRoute("/api/v1/events", (*handler).apiEvents, 0, http.MethodGet)
	t.apiRoute("/api/v1/hook", (*handler).apiHook, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/reboot", (*handler).apiReboot, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/restart", (*handler).apiRestart, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/profile", (*handler).apiProfile, bodyXML, http.MethodPost)
	t.apiRoute("/api/v1/factory-reset", (*handler).apiFactoryReset, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/resync", (*handler).apiResync, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/upgrade", (*handler).apiUpgrade, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/report", (*handler).apiReport, bodyJSON, http.MethodPost)
	t.apiRoute("/api/v1/calls", (*handler).apiCalls, bodyJSON, http.MethodGet, http.MethodHead, http.MethodPost)
	t.apiRoute("/api/v1/calls/{id}/{action}", (*handler).apiCallAction, bodyJSON, http.MethodPost)
	t.api.Handle("/api/", serve(func(_ *handler, w http.ResponseWriter, r *http.Request) error {
		return httpError(http.StatusNotFound, nil, "no API endpoint %s", r.URL.Path)
	}))
}

// apiRoute registers an API endpoint: the methods it answers (405 otherwise), that a browser
// may call it from the phone's own origin only (403 otherwise), the body a POST carries (415
// otherwise; guard.go), and the admin credentials it needs, as the admin pages do (401
// otherwise).
func (t *routeTable) apiRoute(path string, fn route, body bodyKind, methods ...string) {
	allow := strings.Join(methods, ", ")
	t.api.Handle(path, serve(func(h *handler, w http.ResponseWriter, r *http.Request) error {
		if !slices.Contains(methods, r.Method) {
			w.Header().Set("Allow", allow)
			return httpError(http.StatusMethodNotAllowed, nil, "method %s not allowed, use %s", r.Method, allow)
		}
		if why := h.crossOrigin(r); why != "" {
			return httpError(http.StatusForbidden, nil, "cross-origin request refused (%s)", why)
		}
		if r.Method == http.MethodPost {
			if err := checkContentType(r, body); err != nil {
				return err
			}
		}
		if _, ok := h.authenticate(w, r, AccountAdmin); !ok {
			return nil
		}
		return fn(h, w, r)
	}))
}

// adminOnly guards an admin URL: refused while Enable_Web_Admin_Access is No, and only for
// the admin account (DECISIONS 16: 401 without admin credentials, never a page).
func adminOnly(fn route) route {
	return func(h *handler, w http.ResponseWriter, r *http.Request) error {
		if !h.adminAllowed(w, r) {
			return nil
		}
		if _, ok := h.authenticate(w, r, AccountAdmin); !ok {
			return nil
		}
		return fn(h, w, r)
	}
}

// adminAllowed reports whether the admin pages may be served; when Enable_Web_Admin_Access is
// No it answers 403 with the reason and returns false. The user pages still work then
// (SPA-BEHAVIOUR §5.1). The automation API is not the device's and is not affected.
func (h *handler) adminAllowed(w http.ResponseWriter, r *http.Request) bool {
	cfg := h.unit.Config()
	if cfg == nil || cfg.Bool(config.EnableWebAdminAccess) {
		return true // while booting, authenticate answers 503
	}
	writeError(w, r, http.StatusForbidden, "admin access is disabled (Enable_Web_Admin_Access is No)")
	return false
}
