package webui

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// maxActionURL bounds the URL of /admin/resync?URL and /admin/upgrade?URL.
const maxActionURL = 2048

// rebootURL is /admin/reboot: it answers at once and the phone reboots when it is idle
// (SPA-BEHAVIOUR §5.4 "reboots only when it is idle", DECISIONS 17).
func (h *handler) rebootURL(w http.ResponseWriter, r *http.Request) error {
	if err := actionMethod(w, r); err != nil {
		return err
	}
	p, err := h.unit.Phone()
	if err != nil {
		return err
	}
	out, err := p.RequestReboot(r.Context(), "web "+r.URL.Path+" from "+requester(r))
	if err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	msg := "Rebooting..."
	if out == phone.OutcomeDeferred {
		msg = "The phone will reboot when it is not in use."
	}
	h.actionPage(w, "Reboot", msg)
	return nil
}

// urlOp is a request that takes a URL: a resync or an upgrade, from an action URL or the API.
type urlOp struct {
	name    string
	request func(p *phone.Phone, ctx context.Context, rawURL, requester string) (phone.Outcome, error)
	title   string
	started string
	later   string // the Sipura wording: "will be done when it is not in use" [S7 p41]
	queued  string // a resync request behind the running resync (DECISIONS 8)
}

var (
	opResync = urlOp{name: "resync", request: (*phone.Phone).RequestResync, title: "Resync",
		started: "Resyncing...", later: "The resync will be done when the phone is not in use.",
		queued: "The resync will be done when the current one ends."}
	opUpgrade = urlOp{name: "upgrade", request: (*phone.Phone).RequestUpgrade, title: "Upgrade",
		started: "Upgrading...", later: "The upgrade will be done when the phone is not in use."}
)

// requestURLAction checks the URL and asks the phone; a URL without a server means the host
// that sent the request (SPA-BEHAVIOUR §5.4, §2.2).
func (h *handler) requestURLAction(r *http.Request, raw string, op urlOp) (phone.Outcome, error) {
	u, err := actionURL(raw)
	if err != nil {
		return 0, err
	}
	p, err := h.unit.Phone()
	if err != nil {
		return 0, err
	}
	out, err := op.request(p, r.Context(), u, requester(r))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op.name, err)
	}
	return out, nil
}

// urlAction serves an action URL whose query string is the URL.
func (h *handler) urlAction(w http.ResponseWriter, r *http.Request, op urlOp) error {
	if err := actionMethod(w, r); err != nil {
		return err
	}
	out, err := h.requestURLAction(r, r.URL.RawQuery, op)
	if err != nil {
		return err
	}
	msg := op.started
	switch out {
	case phone.OutcomeDeferred:
		msg = op.later
	case phone.OutcomeQueued:
		msg = op.queued
	}
	h.actionPage(w, op.title, msg)
	return nil
}

// resyncURL is /admin/resync[?URL]: without a URL the phone runs its Profile_Rule sequence,
// with one it resyncs once to it. Refused with 403 while Provision_Enable is No.
func (h *handler) resyncURL(w http.ResponseWriter, r *http.Request) error {
	return h.urlAction(w, r, opResync)
}

// upgradeURL is /admin/upgrade?URL and the Sipura form /upgrade?URL: no scheme means TFTP,
// no server the requester; the upgrade runs only when the phone is idle (SPA-BEHAVIOUR §5.4).
// Refused with 403 while Upgrade_Enable is No (DECISIONS 17).
func (h *handler) upgradeURL(w http.ResponseWriter, r *http.Request) error {
	return h.urlAction(w, r, opUpgrade)
}

// spacfgXML is /admin/spacfg.xml, the configuration as <flat-profile> (SPA-BEHAVIOUR §5.3):
// everything, with the live Info values first, for the admin. A request that presents the
// user account's credentials gets the user's view instead: no parameter with access na and
// no secret. Without credentials the URL needs the admin account, as every /admin/ URL.
func (h *handler) spacfgXML(w http.ResponseWriter, r *http.Request) error {
	if !h.adminAllowed(w, r) {
		return nil
	}
	need := AccountAdmin
	if r.Header.Get("Authorization") != "" {
		need = AccountUser
	}
	acct, ok := h.authenticate(w, r, need)
	if !ok {
		return nil
	}
	st := h.unit.Status()
	if st.Config == nil {
		return phone.ErrBooting
	}
	opts := config.ExportOptions{Info: &st.Info, User: acct != AccountAdmin}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return nil
	}
	if err := st.Config.WriteXML(w, opts); err != nil {
		return fmt.Errorf("write spacfg.xml: %w", err)
	}
	return nil
}

// actionMethod refuses HEAD on the action URLs: a HEAD must not reboot the phone.
func actionMethod(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodGet || r.Method == http.MethodPost {
		return nil
	}
	w.Header().Set("Allow", "GET, POST")
	return httpError(http.StatusMethodNotAllowed, nil, "method %s not allowed, use GET or POST", r.Method)
}

// actionPage answers an action URL at once with a short page (DECISIONS 17).
func (h *handler) actionPage(w http.ResponseWriter, title, msg string) {
	if m := h.unit.Model(); m != "" {
		title = m + " " + title
	}
	w.Header().Set("Cache-Control", "no-store")
	writeHTML(w, http.StatusOK, title, msg)
}

// actionURL returns the URL of /admin/resync?URL and /admin/upgrade?URL: the whole raw query
// string, not a key=value pair (SPA-BEHAVIOUR §5.4). All the device's forms pass through:
// "http://host/p.cfg", "host/p.cfg", "/p.cfg", "[--key k] ...". Percent escapes a browser
// adds (a space as %20) are undone; a query that is not a valid escape is taken as it is.
// The phone validates the URL itself; this refuses only what no URL can hold.
func actionURL(rawQuery string) (string, error) {
	u := rawQuery
	if s, err := url.PathUnescape(rawQuery); err == nil {
		u = s
	}
	if len(u) > maxActionURL {
		return "", httpError(http.StatusBadRequest, phone.ErrInvalidRequest, "URL longer than %d bytes", maxActionURL)
	}
	if !utf8.ValidString(u) {
		return "", httpError(http.StatusBadRequest, phone.ErrInvalidRequest, "URL is not valid UTF-8")
	}
	for _, c := range u {
		if c < 0x20 || c == 0x7f {
			return "", httpError(http.StatusBadRequest, phone.ErrInvalidRequest, "URL holds a control character")
		}
	}
	return u, nil
}

// requester is the address of the host that sent the request: the server of an action URL
// that names none (SPA-BEHAVIOUR §5.4 "No server → the host that made the HTTP request").
func requester(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
