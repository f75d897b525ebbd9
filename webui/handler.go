package webui

import (
	"crypto/rand"
	"net/http"
	"strings"
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
}

// handler serves one unit's web pages, action URLs and automation API.
type handler struct {
	// Immutable after New.
	unit *phone.Unit
	log  *zap.Logger
	mux  *http.ServeMux // the device's own pages and action URLs
	api  *http.ServeMux // the automation API under /api/ (routes.go)
	// nonceKey signs the Digest nonces of this handler (auth.go); random per handler.
	nonceKey [32]byte
	// heartbeat is the interval of the comment lines that keep an event stream open.
	heartbeat time.Duration
}

// New returns the HTTP handler of a phone unit: the device's own pages and action URLs and the
// automation API under /api/v1/.
func New(unit *phone.Unit, opts Options) http.Handler {
	return newHandler(unit, opts)
}

func newHandler(unit *phone.Unit, opts Options) *handler {
	h := &handler{unit: unit, log: opts.Logger, mux: http.NewServeMux(), api: http.NewServeMux(),
		heartbeat: 15 * time.Second}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	h.log = h.log.Named("webui")
	rand.Read(h.nonceKey[:]) // never fails (crypto/rand)
	h.routes()
	return h
}

// ServeHTTP sends the API to its own mux, so that its routes and the pages' never conflict,
// and everything else to the device's.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.api.ServeHTTP(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}
