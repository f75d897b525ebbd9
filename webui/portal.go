package webui

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
)

// The fleet portal (issue 13 item 5), on the fleet's own listener:
//
//	GET  /                          the dashboard: a grid of the phones coloured by state,
//	                                counts, filters, fleet-wide actions; live (no external assets)
//	GET  /api/v1/fleet              every phone's portal state and the counts, JSON
//	                                (?state=registered&q=text filter it)
//	GET  /api/v1/fleet/events       server-sent events: "snapshot" (all phones) first, then
//	                                "update" (the phones that changed and the counts) each
//	                                second something changed
//	POST /api/v1/fleet/power-cycle  every phone off and on (phone.Fleet.PowerCycle)
//	POST /api/v1/fleet/resync       every phone resyncs now (as /admin/resync)
//	POST /api/v1/fleet/factory-reset  every phone reset to its factory defaults
//	ANY  /phones/{mac}/…            the phone's own web server: its pages and its API
//
// A phone's portal state is one of portalStates, the first that holds: offline (its unit
// has stopped), booting (booting or rebooting), in-call (a call in progress), provisioning
// (a resync fetching, or a firmware upgrade), failed (its last resync failed, or an
// extension's registration), registered (an extension registered), provisioned (its last
// resync succeeded), running (in service, none of these: no provisioning server, no line).
// A failure shows before a registration: it is what an operator looks for.
//
// The actions are POSTs with a JSON Content-Type (a form post, which a browser sends
// cross-site without asking, is refused) and are refused when a browser marks them as coming
// from another site, as the phones' API is (guard.go); the listener itself has no
// credentials (FleetOptions), like /metrics.

// portalStates are the states of the dashboard, in its legend's order.
var portalStates = []string{"booting", "provisioning", "provisioned", "failed", "registered", "in-call", "running", "offline"}

// portalState says in a word what a phone is doing.
func portalState(st *phone.Status) string {
	switch st.State {
	case phone.StateStopped:
		return "offline"
	case phone.StateBooting, phone.StateRebooting:
		return "booting"
	}
	if len(st.Calls) > 0 {
		return "in-call"
	}
	if st.State == phone.StateUpgrading || st.Provisioning.State == "fetching" {
		return "provisioning"
	}
	registered := false
	for _, e := range st.Extensions {
		// An extension that could not even start (its socket, say) has stopped registering
		// but failed all the same.
		if !e.Enabled || !e.Registering && e.Registration != "Failed" {
			continue
		}
		switch e.Registration {
		case "Failed":
			return "failed"
		case "Registered":
			registered = true
		}
	}
	switch {
	case st.Provisioning.LastResult == "failure":
		return "failed"
	case registered:
		return "registered"
	case st.Provisioning.LastResult == "success":
		return "provisioned"
	}
	return "running"
}

// FleetPhone is one phone in /api/v1/fleet.
type FleetPhone struct {
	Index int    `json:"index"`
	MAC   string `json:"mac"`
	Model string `json:"model"`
	IP    string `json:"ip"`
	// State is the portal's state (see portalStates); Device the unit's own.
	State  string      `json:"state"`
	Device phone.State `json:"device_state"`
	// Lines are the user IDs of the extensions that register, "1001" or "1001 (Failed)".
	Lines []string `json:"lines,omitempty"`
	Calls int      `json:"calls"`
	// Resync is the last resync's result and error ($ERR), if any.
	Resync      string `json:"last_resync,omitempty"`
	ResyncError string `json:"last_resync_error,omitempty"`
	// Page is the phone's pages through the portal, when the portal proxies them.
	Page string `json:"page,omitempty"`
}

// sameFleetPhone says whether two readings show the same thing (an update is sent when not).
func sameFleetPhone(a, b *FleetPhone) bool {
	return a.State == b.State && a.Device == b.Device && a.Calls == b.Calls && a.Resync == b.Resync &&
		a.ResyncError == b.ResyncError && a.IP == b.IP && slices.Equal(a.Lines, b.Lines)
}

type portal struct {
	units      []*phone.Unit
	web        []string // unit i's web server, host:port; nil: no proxy
	powerCycle func()
	log        *zap.Logger
	interval   time.Duration

	mu    sync.Mutex
	byMAC map[string]int // guarded by mu; 12 upper-case hex digits → unit index, as last seen
}

func newPortal(units []*phone.Unit, opts FleetOptions) *portal {
	p := &portal{units: units, web: opts.Web, byMAC: map[string]int{}, powerCycle: opts.PowerCycle,
		log: opts.Logger, interval: opts.PortalInterval}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if p.interval <= 0 {
		p.interval = time.Second
	}
	return p
}

// find returns the unit whose MAC is mac. A fleet's MACs may be made at first boot, so the
// index is rebuilt when a MAC is not (or no longer) where it was.
func (p *portal) find(mac string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i, ok := p.byMAC[mac]; ok && p.units[i].Status().MAC == mac {
		return i, true
	}
	clear(p.byMAC)
	for i, u := range p.units {
		p.byMAC[u.Status().MAC] = i
	}
	i, ok := p.byMAC[mac]
	return i, ok
}

func (p *portal) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.dashboard)
	mux.HandleFunc("GET /api/v1/fleet", p.apiFleet)
	mux.HandleFunc("GET /api/v1/fleet/events", p.events)
	mux.HandleFunc("POST /api/v1/fleet/{action}", p.action)
	if p.web != nil {
		mux.HandleFunc("/phones/{mac}/{rest...}", p.proxy)
		mux.HandleFunc("/phones/{mac}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/phones/"+url.PathEscape(r.PathValue("mac"))+"/", http.StatusMovedPermanently)
		})
	}
}

// read returns unit i's portal entry now.
func (p *portal) read(i int) FleetPhone {
	st := p.units[i].Status()
	fp := FleetPhone{Index: i, MAC: st.MAC, Model: st.Model, IP: st.IP, State: portalState(st), Device: st.State,
		Calls: len(st.Calls), Resync: st.Provisioning.LastResult, ResyncError: st.Provisioning.LastError}
	for _, e := range st.Extensions {
		if e.Enabled && (e.Registering || e.Registration == "Failed") && e.UserID != "" {
			line := e.UserID
			if e.Registration != "Registered" && e.Registration != "" {
				line += " (" + e.Registration + ")"
			}
			fp.Lines = append(fp.Lines, line)
		}
	}
	if p.web != nil {
		fp.Page = "/phones/" + st.MAC + "/"
	}
	return fp
}

func counts(phones []FleetPhone) map[string]int {
	c := make(map[string]int, len(portalStates))
	for _, s := range portalStates {
		c[s] = 0
	}
	for i := range phones {
		c[phones[i].State]++
	}
	return c
}

// matches applies the dashboard's filters: a state (or "") and a text found in the MAC,
// IP, model or a line (case-insensitive; or "").
func (fp *FleetPhone) matches(state, q string) bool {
	if state != "" && fp.State != state {
		return false
	}
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	for _, s := range append([]string{fp.MAC, fp.IP, fp.Model}, fp.Lines...) {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

func (p *portal) apiFleet(w http.ResponseWriter, r *http.Request) {
	all := make([]FleetPhone, len(p.units))
	for i := range p.units {
		all[i] = p.read(i)
	}
	state, q := r.URL.Query().Get("state"), r.URL.Query().Get("q")
	if state != "" && !slices.Contains(portalStates, state) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "state: want one of " + strings.Join(portalStates, ", ")})
		return
	}
	phones := make([]FleetPhone, 0, len(all))
	for i := range all {
		if all[i].matches(state, q) {
			phones = append(phones, all[i])
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"total": len(all), "counts": counts(all), "states": portalStates, "phones": phones})
}

// events streams the fleet: a snapshot, then every interval the phones that changed (none:
// nothing is sent but a comment line every 15 s that keeps the connection open). Each client
// keeps its own last reading, so a slow client gets the newest state, never a backlog.
func (p *portal) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // see apiEvents
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	last := make([]FleetPhone, len(p.units))
	for i := range p.units {
		last[i] = p.read(i)
	}
	send := func(kind string, v any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		var b bytes.Buffer
		data, _ := json.Marshal(v)
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", kind, data)
		if _, err := w.Write(b.Bytes()); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("snapshot", map[string]any{"total": len(last), "counts": counts(last), "states": portalStates, "phones": last}) {
		return
	}
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	quiet := 0
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		var changed []FleetPhone
		for i := range p.units {
			if fp := p.read(i); !sameFleetPhone(&fp, &last[i]) {
				last[i] = fp
				changed = append(changed, fp)
			}
		}
		if len(changed) == 0 {
			if quiet++; time.Duration(quiet)*p.interval >= 15*time.Second {
				quiet = 0
				_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			}
			continue
		}
		quiet = 0
		if !send("update", map[string]any{"counts": counts(last), "phones": changed}) {
			return
		}
	}
}

// action runs a fleet-wide action on every phone and answers how many took it.
func (p *portal) action(w http.ResponseWriter, r *http.Request) {
	if why := crossSite(r, nil); why != "" {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "cross-site request refused: " + why})
		return
	}
	if err := checkContentType(r, bodyJSON); err != nil {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": err.Error()})
		return
	}
	op := r.PathValue("action")
	var each func(ctx context.Context, u *phone.Unit) error
	switch op {
	case "power-cycle":
		if p.powerCycle == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]any{"error": "this fleet cannot be power-cycled"})
			return
		}
		p.powerCycle()
		p.log.Info("fleet action", zap.String("op", op), zap.Int("phones", len(p.units)), zap.String("remote", r.RemoteAddr))
		writeJSON(w, http.StatusAccepted, map[string]any{"op": op, "phones": len(p.units), "accepted": len(p.units)})
		return
	case "resync":
		each = func(ctx context.Context, u *phone.Unit) error {
			ph, err := u.Phone()
			if err != nil {
				return err
			}
			_, err = ph.RequestResync(ctx, "", "fleet portal")
			return err
		}
	case "factory-reset":
		each = func(ctx context.Context, u *phone.Unit) error {
			_, err := u.FactoryReset(ctx)
			return err
		}
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no fleet action " + strconv.Quote(op) + ": power-cycle, resync, factory-reset"})
		return
	}
	accepted, failed := 0, map[string]int{}
	for _, u := range p.units {
		if err := each(r.Context(), u); err != nil {
			failed[err.Error()]++
			continue
		}
		accepted++
	}
	p.log.Info("fleet action", zap.String("op", op), zap.Int("phones", len(p.units)), zap.Int("accepted", accepted),
		zap.String("remote", r.RemoteAddr))
	res := map[string]any{"op": op, "phones": len(p.units), "accepted": accepted}
	if len(failed) > 0 {
		res["refused"] = failed // by reason: the phones that were booting, say
	}
	writeJSON(w, http.StatusAccepted, res)
}

// proxy serves /phones/{mac}/… from the phone's own web server: its pages (links rewritten
// under the prefix) and its API (the event stream too: responses are flushed as they come).
// The phone's own guard then applies: the request names the phone as Host, and the
// portal's same-origin requests reach it as the phone's own (the portal refuses other
// sites' requests itself).
func (p *portal) proxy(w http.ResponseWriter, r *http.Request) {
	mac := strings.ToUpper(strings.NewReplacer(":", "", "-", "").Replace(r.PathValue("mac")))
	i, ok := p.find(mac)
	if !ok || i >= len(p.web) || p.web[i] == "" {
		http.Error(w, "no phone "+safeHost(mac)+" in this fleet", http.StatusNotFound)
		return
	}
	if why := crossSite(r, nil); why != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "cross-site request refused: "+why, http.StatusForbidden)
		return
	}
	prefix := "/phones/" + mac
	target := p.web[i]
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", target
			pr.Out.URL.Path = "/" + r.PathValue("rest")
			pr.Out.URL.RawPath = ""
			pr.Out.Host = target
			// The portal has checked the site; to the phone it is its own page.
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Referer")
			if pr.Out.Header.Get("Sec-Fetch-Site") != "" {
				pr.Out.Header.Set("Sec-Fetch-Site", "same-origin")
			}
		},
		FlushInterval: -1,
		ModifyResponse: func(res *http.Response) error {
			if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "/") {
				res.Header.Set("Location", prefix+loc)
			}
			if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Content-Encoding") != "" {
				return nil
			}
			body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
			res.Body.Close()
			if err != nil {
				return err
			}
			for _, attr := range []string{`href="/`, `action="/`, `src="/`} {
				body = bytes.ReplaceAll(body, []byte(attr), []byte(attr[:len(attr)-1]+prefix+"/"))
			}
			res.Body = io.NopCloser(bytes.NewReader(body))
			res.ContentLength = int64(len(body))
			res.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "phone "+mac+" does not answer: "+err.Error(), http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}

//go:embed portal.html
var portalPage []byte

func (p *portal) dashboard(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Everything is inline and same-origin: no external asset may load.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:")
	h.Set("X-Frame-Options", "DENY")
	w.Write(portalPage)
}
