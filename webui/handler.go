package webui

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
)

// Account is who a request is made as: the device has two accounts with fixed names
// (SPA-BEHAVIOUR §5.2).
type Account int

const (
	// AccountUser is the "user" account: it sees parameters with access ro or rw.
	AccountUser Account = iota + 1
	// AccountAdmin is the "admin" account: it sees and changes everything.
	AccountAdmin
)

// String returns "user" or "admin".
func (a Account) String() string {
	if a == AccountAdmin {
		return "admin"
	}
	return "user"
}

// Options configure the web server of one phone unit.
type Options struct {
	// Logger receives one line per decision (a refused login, an action queued); nil discards.
	Logger *zap.Logger
	// AllowHosts are host names the server answers to besides the phone's own names and
	// addresses (the Host check of guard.go): for a phone behind a proxy, or reached by a
	// DNS name of its own (--allow-host).
	AllowHosts []string
	// Limits bound what clients may hold of the server; zero fields take the defaults.
	Limits Limits
	// HTTP counts the requests by route class and status code; nil counts nothing. A fleet
	// shares one among all its servers.
	HTTP *HTTPCounters
	// Metrics is served at /metrics with the admin credentials; nil: /metrics answers 404.
	Metrics http.Handler
	// Hub is what the phone's server shares with the other phones of its fleet: the
	// listener of its port and the route table (hub.go); nil: a listener and routes of its
	// own, as a single phone has.
	Hub *Hub
}

// handler serves one unit's web pages, action URLs and automation API.
type handler struct {
	// Immutable after New.
	unit   *phone.Unit
	log    *zap.Logger
	shared *routeTable // the fleet's route table (Options.Hub); nil: own
	limits Limits      // with the defaults filled in
	hosts  hostGuard   // the names the server answers to besides the phone's own
	// nonceKey signs the Digest nonces of this handler (auth.go); random per handler.
	nonceKey [32]byte
	// heartbeat is the interval of the comment lines that keep an event stream open.
	heartbeat time.Duration
	counters  *HTTPCounters // nil: not counted (httpmetrics.go)
	metrics   http.Handler  // nil: no /metrics

	// routesOnce builds the route table of a phone without a hub (own) at its first
	// request, not in New: it costs about 0.2 ms of CPU and 20 KB (routes.go), and most of
	// a fleet's phones are never browsed. A hub's phones share the hub's.
	routesOnce sync.Once
	own        *routeTable // written once under routesOnce

	views viewCache // the rendered tabs of the phone's latest configuration (pages.go)

	// Safe for concurrent use; bounded.
	nonces  *nonceTable    // the Digest nonce counts seen (auth.go)
	logins  *loginThrottle // recent login failures by client (throttle.go)
	uploads chan struct{}  // a slot per request reading a large body at once
	// The refusals' rate logs, each made at its first refusal (refusal): most phones of a
	// fleet refuse nothing, and four made at New were some 340 bytes a phone. rateNow is their
	// clock (nil: time.Now).
	loginRefused   atomic.Pointer[rateLog]
	loginThrottled atomic.Pointer[rateLog]
	hostRefused    atomic.Pointer[rateLog]
	streamDropped  atomic.Pointer[rateLog]
	rateNow        func() time.Time
}

// The messages of the handler's rate logs.
const (
	msgLoginRefused   = "login refused"
	msgLoginThrottled = "login throttled"
	msgHostRefused    = "request refused"
	msgStreamDropped  = "event stream dropped"
)

// refusal returns the rate log in p, made with msg if it is not yet.
func (h *handler) refusal(p *atomic.Pointer[rateLog], msg string) *rateLog {
	if r := p.Load(); r != nil {
		return r
	}
	r := newRateLog(h.log, msg, logEvery)
	if h.rateNow != nil {
		r.now = h.rateNow
	}
	if p.CompareAndSwap(nil, r) {
		return r
	}
	return p.Load()
}

// New returns the HTTP handler of a phone unit: the device's own pages and action URLs and the
// automation API under /api/v1/.
func New(unit *phone.Unit, opts Options) http.Handler {
	return newHandler(unit, opts)
}

func newHandler(unit *phone.Unit, opts Options) *handler {
	h := &handler{unit: unit, log: opts.Logger,
		limits: opts.Limits.withDefaults(), hosts: newHostGuard(opts.AllowHosts),
		heartbeat: 15 * time.Second, nonces: newNonceTable(), logins: newLoginThrottle(),
		counters: opts.HTTP, metrics: opts.Metrics}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	h.log = h.log.Named("webui")
	if opts.Hub != nil {
		h.shared = opts.Hub.routes
	}
	h.uploads = make(chan struct{}, h.limits.MaxUploads)
	rand.Read(h.nonceKey[:]) // never fails (crypto/rand)
	return h
}

// flushLogs writes the counts of the refusals not logged yet.
func (h *handler) flushLogs() {
	for _, p := range []*atomic.Pointer[rateLog]{&h.loginRefused, &h.loginThrottled, &h.hostRefused, &h.streamDropped} {
		if r := p.Load(); r != nil {
			r.flush()
		}
	}
}

// upload waits for a slot to read a large body (a profile, a form post) and returns its
// release; at most Limits.MaxUploads bodies are read at once, so that slow or large bodies
// cannot hold the phone's memory. It waits at most Limits.ReadTimeout, or until the client
// goes away, then answers 503.
func (h *handler) upload(r *http.Request) (release func(), err error) {
	t := time.NewTimer(h.limits.ReadTimeout)
	defer t.Stop()
	select {
	case h.uploads <- struct{}{}:
		return func() { <-h.uploads }, nil
	case <-t.C:
	case <-r.Context().Done():
	}
	return nil, httpError(http.StatusServiceUnavailable, nil, "busy reading other uploads; try again")
}

// ServeHTTP checks that the request names the phone as its Host (guard.go), then sends the API
// to its own mux, so that its routes and the pages' never conflict, and everything else to
// the device's.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.counters != nil {
		cw := &countingWriter{ResponseWriter: w, c: h.counters, class: classify(r.URL.Path)}
		defer cw.done()
		w = cw
	}
	if !h.checkHost(w, r) {
		return
	}
	t := h.table()
	r = r.WithContext(context.WithValue(r.Context(), handlerKey{}, h))
	if strings.HasPrefix(r.URL.Path, "/api/") {
		t.api.ServeHTTP(w, r)
		return
	}
	t.mux.ServeHTTP(w, r)
}

// table returns the route table the handler serves: its fleet's, or its own, built now at
// the first request.
func (h *handler) table() *routeTable {
	if h.shared != nil {
		return h.shared
	}
	h.routesOnce.Do(func() { h.own = newRouteTable() })
	return h.own
}
