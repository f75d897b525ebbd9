package webui

import (
	"net/http"

	"github.com/spa900/spa900/phone"
)

// HealthPath is the health endpoint of a phone's web server, for container health checks
// (`spa900 health`, Docker's HEALTHCHECK, Kubernetes probes). It is an extension of the
// emulator, like the API: the device has no such URL.
const HealthPath = "/healthz"

// health answers GET /healthz without credentials: 200 and {"state", "mac", "boot_count"}
// while the phone is in service, 503 while it boots, reboots or has stopped. It needs no
// account so that a provisioned Admin_Passwd never turns a healthy container unhealthy; it
// says nothing a caller of the unprotected Info page could not see.
func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	st := h.unit.Status()
	code := http.StatusOK
	switch st.State {
	case phone.StateRunning, phone.StateUpgrading:
	default:
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, code, map[string]any{"state": st.State, "mac": st.MAC, "boot_count": st.BootCount})
}

// metricsPage serves Options.Metrics at /metrics with the admin credentials, as the API
// (a Prometheus scrape config sends them as Basic): 404 when the server has no metrics.
func (h *handler) metricsPage(w http.ResponseWriter, r *http.Request) error {
	if h.metrics == nil {
		return httpError(http.StatusNotFound, nil, "no metrics on this server")
	}
	if _, ok := h.authenticate(w, r, AccountAdmin); !ok {
		return nil
	}
	h.metrics.ServeHTTP(w, r)
	return nil
}
