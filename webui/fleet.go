package webui

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
)

// ReadyPath is the readiness endpoint of a fleet's listener: 200 once every phone is in
// service.
const ReadyPath = "/readyz"

// FleetOptions configure the fleet's own listener ([NewFleetHandler]).
type FleetOptions struct {
	// Metrics is served at /metrics (the fleet's one registry); nil: 404.
	Metrics http.Handler
	// HTTP counts the listener's requests with the phones' (route classes health, metrics).
	HTTP *HTTPCounters
	// Web are the units' web servers (host:port, in the units' order), which the portal
	// serves under /phones/{mac}/; nil: no proxy.
	Web []string
	// PowerCycle powers every phone off and on (phone.Fleet.PowerCycle), the portal's
	// power-cycle action; nil: the action answers 501.
	PowerCycle func()
	// PortalInterval is how often the portal's event stream looks for changes (default 1 s).
	PortalInterval time.Duration
	// Logger receives the fleet actions, one line each; nil discards.
	Logger *zap.Logger
}

// NewFleetHandler returns the handler of a fleet's own listener (spa900 fleet --listen): one
// address for the whole fleet, beside each phone's own web server.
//
//   - GET /healthz: 200 and the phones by state while the process serves (liveness);
//
//   - GET /readyz: the same, 200 when every phone is in service, 503 while any boots,
//     reboots or has stopped (readiness);
//
//   - GET /metrics: the fleet's metrics, without credentials: the listener is the operator's,
//     not a device's (bind it where only the operator's network reaches).
//
//   - the fleet portal: the dashboard at /, /api/v1/fleet, the phones' own pages and API
//     under /phones/{mac}/, and fleet-wide actions (portal.go).
func NewFleetHandler(units []*phone.Unit, opts FleetOptions) http.Handler {
	mux := http.NewServeMux()
	counts := func() (map[phone.State]int, bool) {
		by := map[phone.State]int{}
		ready := true
		for _, u := range units {
			st := u.Status().State
			by[st]++
			if st != phone.StateRunning && st != phone.StateUpgrading {
				ready = false
			}
		}
		return by, ready
	}
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, r *http.Request) {
		by, _ := counts()
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"phones": len(units), "states": by})
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		by, ready := counts()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, code, map[string]any{"phones": len(units), "states": by, "ready": ready})
	})
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	newPortal(units, opts).routes(mux)
	var h http.Handler = mux
	if opts.HTTP != nil {
		c := opts.HTTP
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cw := &countingWriter{ResponseWriter: w, c: c, class: classify(r.URL.Path)}
			defer cw.done()
			mux.ServeHTTP(cw, r)
		})
	}
	return h
}
