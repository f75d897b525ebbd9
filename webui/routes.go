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

// routes registers every route of the handler: the device's action URLs and export
// (SPA-BEHAVIOUR §5.3, §5.4), the pages (pages.go) and the automation API.
//
// Every device pattern names its method, so that it never conflicts with the pages' own
// patterns (net/http: a method-less pattern and a method pattern on an overlapping path
// conflict).
func (h *handler) routes() {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		h.mux.Handle(m+" /admin/reboot", h.handle(h.adminOnly(h.rebootURL)))
		h.mux.Handle(m+" /admin/resync", h.handle(h.adminOnly(h.resyncURL)))
		h.mux.Handle(m+" /admin/upgrade", h.handle(h.adminOnly(h.upgradeURL)))
		h.mux.Handle(m+" /upgrade", h.handle(h.adminOnly(h.upgradeURL))) // Sipura form [S7 p41]
	}
	h.mux.Handle("GET /admin/spacfg.xml", h.handle(h.spacfgXML))
	h.mux.HandleFunc("GET "+HealthPath, h.health)         // health.go: container health checks
	h.mux.Handle("GET /metrics", h.handle(h.metricsPage)) // Options.Metrics
	h.pageRoutes()

	h.apiRoute("/api/v1/status", h.apiStatus, 0, http.MethodGet, http.MethodHead)
	h.apiRoute("/api/v1/config", h.apiConfig, 0, http.MethodGet, http.MethodHead)
	h.apiRoute("/api/v1/events", h.apiEvents, 0, http.MethodGet)
	h.apiRoute("/api/v1/hook", h.apiHook, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/reboot", h.apiReboot, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/restart", h.apiRestart, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/profile", h.apiProfile, bodyXML, http.MethodPost)
	h.apiRoute("/api/v1/factory-reset", h.apiFactoryReset, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/resync", h.apiResync, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/upgrade", h.apiUpgrade, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/report", h.apiReport, bodyJSON, http.MethodPost)
	h.apiRoute("/api/v1/calls", h.apiCalls, bodyJSON, http.MethodGet, http.MethodHead, http.MethodPost)
	h.apiRoute("/api/v1/calls/{id}/{action}", h.apiCallAction, bodyJSON, http.MethodPost)
	h.api.Handle("/api/", h.handle(func(w http.ResponseWriter, r *http.Request) error {
		return httpError(http.StatusNotFound, nil, "no API endpoint %s", r.URL.Path)
	}))
}

// apiRoute registers an API endpoint: the methods it answers (405 otherwise), that a browser
// may call it from the phone's own origin only (403 otherwise), the body a POST carries (415
// otherwise; guard.go), and the admin credentials it needs, as the admin pages do (401
// otherwise).
func (h *handler) apiRoute(path string, fn handlerFunc, body bodyKind, methods ...string) {
	allow := strings.Join(methods, ", ")
	h.api.Handle(path, h.handle(func(w http.ResponseWriter, r *http.Request) error {
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
		return fn(w, r)
	}))
}

// adminOnly guards an admin URL: refused while Enable_Web_Admin_Access is No, and only for
// the admin account (DECISIONS 16: 401 without admin credentials, never a page).
func (h *handler) adminOnly(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !h.adminAllowed(w, r) {
			return nil
		}
		if _, ok := h.authenticate(w, r, AccountAdmin); !ok {
			return nil
		}
		return fn(w, r)
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
