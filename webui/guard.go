package webui

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"
)

// Who may drive a phone from a browser (issue 9 item 3). The device has no protection; a
// page of this emulator should not be driven by another site a browser on the LAN visits:
//
//   - Host: every request must name the phone as its Host: an IP address (a DNS rebinding
//     attack needs a name it controls, never an address), "localhost" and names under
//     .localhost, the phone's HostName and HostName.Domain, the host of the server's --http
//     address, or a name of Options.AllowHosts (--allow-host, for a phone behind a proxy or
//     reached by a DNS name of its own). Others get 403: a page of a rebinding attacker,
//     which a browser sends with the attacker's name, cannot read /api/v1/config.
//   - Cross-origin: the API refuses a request a browser marks as coming from another origin
//     (Sec-Fetch-Site other than same-origin or none; or, from browsers without it, an Origin
//     that names another host, or "null") with 403, whatever its method. The forms refuse
//     cross-origin posts the same way (forms.go).
//   - Content-Type: a POST to the API that carries a body must say what it is:
//     application/json, or for /api/v1/profile application/xml or text/xml (415 otherwise),
//     so that a form or a text/plain post, which a browser sends cross-site without asking,
//     is never read as a request.
//
// curl and scripts send neither Sec-Fetch-Site nor Origin and are not refused for it; they
// name the phone by its address or a name given with --allow-host.

// hostGuard decides which Host headers name the phone.
type hostGuard struct {
	// allow holds the names, lower case, without a trailing dot, each once: a few (the
	// server's own host and --allow-host's), so a slice, not a map (some 200 bytes less a
	// phone of a fleet).
	allow []string
}

func newHostGuard(names []string) hostGuard {
	var g hostGuard
	for _, n := range names {
		if n = normHost(n); n != "" && !slices.Contains(g.allow, n) {
			g.allow = append(g.allow, n)
		}
	}
	g.allow = slices.Clip(g.allow)
	return g
}

// has reports whether the normalised name h is one of the allowed names.
func (g hostGuard) has(h string) bool { return slices.Contains(g.allow, h) }

// normHost lower-cases a host name, drops a port, brackets and a trailing dot.
func normHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// allowed reports whether host (a Host header) names the phone whose own names are names.
func (g hostGuard) allowed(host string, names ...string) bool {
	h := normHost(host)
	if h == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || g.has(h) {
		return true
	}
	for _, n := range names {
		if n != "" && normHost(n) == h {
			return true
		}
	}
	return false
}

// checkHost answers 403 and returns false when the request's Host does not name the phone.
func (h *handler) checkHost(w http.ResponseWriter, r *http.Request) bool {
	var names []string
	if host, domain := h.unit.HostName(); host != "" { // read without building a status
		names = append(names, host)
		if domain != "" {
			names = append(names, host+"."+domain)
		}
	}
	if h.hosts.allowed(r.Host, names...) {
		return true
	}
	h.refusal(&h.hostRefused, msgHostRefused).note(zap.String("host", safeHost(r.Host)), zap.String("remote", r.RemoteAddr),
		zap.String("path", r.URL.Path), zap.String("reason", "not a name of this phone"))
	writeError(w, r, http.StatusForbidden, "Host "+safeHost(r.Host)+" is not a name of this phone; "+
		"reach it by its address, or start spa900 with --allow-host "+safeHost(normHost(r.Host)))
	return false
}

// safeHost keeps a Host header fit for a log line and a message: at most 100 bytes of
// letters, digits and the punctuation of host names.
func safeHost(h string) string {
	var b strings.Builder
	for i := 0; i < len(h) && b.Len() < 100; i++ {
		c := h[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:[]", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// crossOrigin returns why a browser request comes from another origin, or "".
func (h *handler) crossOrigin(r *http.Request) string {
	return crossSite(r, func(host string) bool { return h.hosts.has(normHost(host)) })
}

// crossSite says why a browser request comes from another site, or "": its Sec-Fetch-Site,
// or, from a browser that sends none, an Origin that is neither the host it asked for nor one
// that allowed (may be nil) accepts. The phone's pages and the fleet portal share it.
func crossSite(r *http.Request, allowed func(host string) bool) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
		return ""
	case "":
	default:
		return "Sec-Fetch-Site is " + site
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return ""
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return "Origin is " + safeHost(o)
	}
	if strings.EqualFold(u.Host, r.Host) || (allowed != nil && allowed(u.Host)) {
		return ""
	}
	return "Origin is another host"
}

// bodyKind is what a POST to the API must carry.
type bodyKind int

const (
	bodyJSON bodyKind = iota + 1 // application/json
	bodyXML                      // application/xml or text/xml
)

// checkContentType refuses a POST whose body is not of kind with 415: a body (or a
// Content-Type, even with no body) must say kind.
func checkContentType(r *http.Request, kind bodyKind) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil // curl -X POST: nothing to read
	}
	mt, _, err := mime.ParseMediaType(ct)
	ok := err == nil
	switch kind {
	case bodyJSON:
		ok = ok && mt == "application/json"
	case bodyXML:
		ok = ok && (mt == "application/xml" || mt == "text/xml")
	}
	if ok {
		return nil
	}
	want := "application/json"
	if kind == bodyXML {
		want = "application/xml or text/xml"
	}
	return httpError(http.StatusUnsupportedMediaType, nil, "Content-Type must be %s", want)
}
