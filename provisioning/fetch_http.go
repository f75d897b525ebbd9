package provisioning

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/icholy/digest"
	"go.uber.org/zap"
	"golang.org/x/net/idna"
)

// HTTP and HTTPS as the device speaks them (SPA-BEHAVIOUR §2.4, §7.1, §7.4, §11 item 7):
//
//   - GET, or POST with the --post body; every request carries the phone's User-Agent;
//   - a new connection per request, from the phone's own address, HTTP/1.1, no proxy, no
//     transparent decompression (a gzip profile must reach the decoder as the server sent it);
//   - HTTPS is TLS 1.2 or later [inf], verified against the configured trust anchors, with the
//     phone's client certificate presented whenever the server asks;
//   - up to three redirects are followed, to http or https only and never from https down to
//     http; a redirect not followed is reported as the [StatusError] it is;
//   - with --uid/--pwd (DECISIONS 13) the credentials go out only after a 401 challenge:
//     Digest when the server offers it, else Basic, so that a Digest server never sees the
//     password in clear; and only to the server of the rule's URL (its host name and port;
//     or its host name on port 443 after a redirect from http to https), never to another
//     host a redirect leads to, whichever host that is and whatever scheme it offers;
//   - what is logged and reported as fetched is the URL after redirects;
//   - the body is bounded by the size limit and must match its announced length.

// newTransport builds the one round tripper of the fetcher.
func (f *Fetcher) newTransport() *oneShot {
	dialer := &net.Dialer{Timeout: f.cfg.Timeout, KeepAlive: -1}
	if ip := f.sourceIP(); ip != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tlsConf := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            f.cfg.RootCAs,
		InsecureSkipVerify: f.cfg.InsecureSkipVerify, //nolint:gosec // the lab switch, off by default
	}
	if cert := f.cfg.ClientCert; cert != nil {
		// Present the certificate whatever CAs the server lists, as a device with one
		// factory certificate does; the server decides.
		tlsConf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		}
	}
	return &oneShot{
		dial:             dialer.DialContext,
		network:          f.network("tcp"),
		tls:              tlsConf,
		handshakeTimeout: f.cfg.Timeout,
		maxHeader:        64 << 10,
	}
}

// checkRedirect follows at most maxRedirects redirects, to http or https, never downgrading
// https to http and never to a URL with user information.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	reason := ""
	switch {
	case len(via) > maxRedirects:
		reason = "too many redirects"
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		reason = "scheme not http or https"
	case via[0].URL.Scheme == "https" && req.URL.Scheme == "http":
		reason = "https to http"
	case req.URL.User != nil:
		reason = "user information in the location"
	}
	if reason != "" {
		f.log.Debug("redirect refused", zap.String("url", req.URL.Redacted()), zap.String("reason", reason))
		return http.ErrUseLastResponse
	}
	if !credentialsMayGo(via[0].URL, req.URL) {
		// net/http forwards Authorization to the same host on another port and to its
		// subdomains; the --uid/--pwd credentials go to the rule's server only.
		req.Header.Del("Authorization")
	}
	f.log.Debug("redirect followed", zap.String("url", req.URL.Redacted()))
	return nil
}

// credentialsMayGo reports whether the --uid/--pwd credentials of a request to rule may be
// sent to to: the same host name and port, or the same host name on the https port when the
// server redirected http to https.
func credentialsMayGo(rule, to *url.URL) bool {
	if !strings.EqualFold(rule.Hostname(), to.Hostname()) {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return port(rule) == port(to) || rule.Scheme == "http" && to.Scheme == "https" && port(to) == "443"
}

// httpExchange is one request/response, with the server address it reached.
type httpExchange struct {
	resp *http.Response
	// final is the redacted URL of the last request after redirects; "" when none was
	// followed.
	final string
	addr  netip.AddrPort // the remote end of the last connection used
}

// redirected records where the request ended when a redirect was followed.
func (x *httpExchange) redirected(resp *http.Response) {
	if resp.Request != nil && resp.Request.Response != nil { // set only on a redirect's request
		x.final = resp.Request.URL.Redacted()
	}
}

// httpRequest sends method to t with body and returns the 2xx response, its body still to be
// read. A non-2xx answer is an error ([StatusError], or [ErrTLS] for nginx's client
// certificate answers) and its body is closed. The exchange is returned with the error too,
// for the URL the request ended at.
func (f *Fetcher) httpRequest(ctx context.Context, t Target, method string, body []byte, user, password string) (*httpExchange, error) {
	x := &httpExchange{}
	if t.Port <= 0 || t.Port > 65535 {
		return x, fmt.Errorf("%w: port %d", ErrUnsupported, t.Port)
	}
	u, err := url.Parse(t.String())
	if err != nil || u.Host == "" || u.User != nil {
		return x, fmt.Errorf("%w: malformed url", ErrUnsupported)
	}
	resp, err := f.send(ctx, x, method, u, body, "")
	if err != nil {
		return x, err
	}
	x.redirected(resp)
	if resp.StatusCode == http.StatusUnauthorized && (user != "" || password != "") {
		at := resp.Request.URL
		if !credentialsMayGo(u, at) {
			drainClose(resp)
			f.log.Warn("credentials withheld", zap.String("url", at.Redacted()),
				zap.String("reason", "the challenge comes from a redirect to another server than the rule's"))
			return x, &StatusError{Code: http.StatusUnauthorized}
		}
		authz, ok := authorization(resp, method, body, user, password)
		drainClose(resp)
		if !ok {
			return x, &StatusError{Code: http.StatusUnauthorized}
		}
		if resp, err = f.send(ctx, x, method, at, body, authz); err != nil {
			return x, err
		}
		x.redirected(resp)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := statusError(resp)
		drainClose(resp)
		return x, err
	}
	x.resp = resp
	return x, nil
}

// send does one request with the phone's headers and follows its redirects as net/http's
// Client does them (which the fetcher used until the client's work per request, a copy of
// the headers and a request built from a URL string among it, showed in a storm's profile):
// 301, 302 and 303 go on with GET and without the body (and its Content-Type) unless the
// method was GET; 307 and 308 with the same method and body; a redirect without a Location
// is the answer; the Location is resolved against the request's URL; each hop carries the
// first request's headers, Authorization only while every hop so far stayed on its host or
// a subdomain (and then only as checkRedirect lets it), and a Referer naming the request
// before unless that went from https to http; the answer of a hop followed is read up to 2
// KiB and closed. checkRedirect decides which redirects are followed. x learns the address
// each connection reached.
func (f *Fetcher) send(ctx context.Context, x *httpExchange, method string, u *url.URL, body []byte, authz string) (*http.Response, error) {
	// Close: "Connection: close", a connection per request (oneShot).
	first := &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, 3), Host: u.Host, Close: true}
	// An empty User-Agent value makes net/http send none rather than its own.
	first.Header.Set("User-Agent", f.cfg.UserAgent)
	post := method == http.MethodPost
	if post {
		first.Header.Set("Content-Type", http.DetectContentType(body))
		setBody(first, body)
	}
	if authz != "" {
		first.Header.Set("Authorization", authz)
	}
	var (
		via            []*http.Request // the requests sent before req, once a redirect is followed
		includeBody    = true
		stripSensitive = false
	)
	req := first
	for {
		resp, addr, err := f.tr.roundTrip(ctx, req)
		if err != nil {
			return nil, tlsFailure(err)
		}
		x.addr = addr
		method, follow, withBody := redirectBehavior(req.Method, resp.StatusCode)
		if !follow {
			return resp, nil
		}
		if !withBody {
			includeBody = false // a hop that dropped the body never sends it again
		}
		loc := resp.Header.Get("Location")
		if loc == "" {
			return resp, nil // a 3xx without a Location is the answer (net/http's issue 17773)
		}
		to, err := req.URL.Parse(loc)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("failed to parse Location header %q: %v", loc, err) //nolint:errorlint // net/http's words
		}
		next := &http.Request{Method: method, URL: to, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: make(http.Header, 4), Response: resp, Close: true}
		if includeBody && post {
			setBody(next, body)
		}
		if !stripSensitive && first.URL.Host != to.Host && !sameDomainOrSub(to, first.URL) {
			stripSensitive = true
		}
		for k, vv := range first.Header {
			switch k {
			case "Authorization":
				if stripSensitive {
					continue
				}
			case "Content-Type":
				if !includeBody {
					continue
				}
			}
			next.Header[k] = vv
		}
		if ref := referer(req.URL, to); ref != "" {
			next.Header.Set("Referer", ref)
		}
		via = append(via, req)
		if err := f.checkRedirect(next, via); errors.Is(err, http.ErrUseLastResponse) {
			return resp, nil
		}
		if resp.ContentLength == -1 || resp.ContentLength <= 2<<10 {
			_, _ = io.CopyN(io.Discard, resp.Body, 2<<10)
		}
		resp.Body.Close()
		req = next
	}
}

// setBody gives req the POST body as net/http's NewRequest does for a bytes.Reader: its
// length announced, an empty one as NoBody.
func setBody(req *http.Request, body []byte) {
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
}

// redirectBehavior is what net/http's Client does with an answer to a request of method: the
// method of the next request, whether it follows, and whether it sends the body again.
func redirectBehavior(method string, code int) (next string, follow, withBody bool) {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		next = method
		if method != http.MethodGet && method != http.MethodHead {
			next = http.MethodGet
		}
		return next, true, false
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return method, true, true
	}
	return "", false, false
}

// sameDomainOrSub reports whether dest's host is initial's or one of its subdomains, as
// net/http decides whether a redirect keeps Authorization (its host names in their ASCII
// form: an ASCII name as it is written, others through IDNA's lookup profile).
func sameDomainOrSub(dest, initial *url.URL) bool {
	ascii := func(u *url.URL) string {
		h := u.Hostname()
		for i := 0; i < len(h); i++ {
			if h[i] >= utf8.RuneSelf {
				if a, err := idna.Lookup.ToASCII(h); err == nil {
					return a
				}
				return h
			}
		}
		return h
	}
	sub, parent := ascii(dest), ascii(initial)
	if sub == parent {
		return true
	}
	if strings.ContainsAny(sub, ":%") || !strings.HasSuffix(sub, parent) {
		return false
	}
	return sub[len(sub)-len(parent)-1] == '.'
}

// referer is the Referer of a redirect from last to next, as net/http's Client sets it: none
// from https to http.
func referer(last, next *url.URL) string {
	if last.Scheme == "https" && next.Scheme == "http" {
		return ""
	}
	ref := last.String()
	if last.User != nil {
		ref = strings.Replace(ref, last.User.String()+"@", "", 1)
	}
	return ref
}

// authorization answers a 401 challenge with the --uid/--pwd credentials: Digest when offered
// (MD5, SHA-256…, qop auth or auth-int), else Basic when offered.
func authorization(resp *http.Response, method string, body []byte, user, password string) (string, bool) {
	if chal, err := digest.FindChallenge(resp.Header); err == nil {
		cred, err := digest.Digest(chal, digest.Options{
			Method:   method,
			URI:      resp.Request.URL.RequestURI(),
			GetBody:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
			Count:    1,
			Username: user,
			Password: password,
		})
		if err == nil {
			return cred.String(), true
		}
	}
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		if len(h) >= 5 && strings.EqualFold(h[:5], "basic") {
			r := http.Request{Header: http.Header{}}
			r.SetBasicAuth(user, password)
			return r.Header.Get("Authorization"), true
		}
	}
	return "", false
}

// statusError words a non-2xx answer. nginx answers an HTTPS request that lacks a required
// client certificate, or carries one it does not trust, with 400 (its internal 496 and 495)
// and a page saying so, instead of failing the handshake; that is a TLS failure to the
// phone, not a server error.
func statusError(resp *http.Response) error {
	se := &StatusError{Code: resp.StatusCode}
	if resp.TLS == nil {
		return se
	}
	switch resp.StatusCode {
	case http.StatusBadRequest, 495, 496:
	default:
		return se
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode == 496 || bytes.Contains(page, []byte("No required SSL certificate was sent")):
		return &tlsError{detail: "server requires a client certificate", err: se, terse: true}
	case resp.StatusCode == 495 || bytes.Contains(page, []byte("The SSL certificate error")):
		return &tlsError{detail: "client certificate rejected", err: se, terse: true}
	}
	return se
}

// tlsFailure recognises the errors of a TLS session that was not trusted and marks them with
// ErrTLS and a short reason.
func tlsFailure(err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		op        *net.OpError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return &tlsError{detail: "server certificate not trusted", err: err}
	case errors.As(err, &hostname):
		return &tlsError{detail: "server certificate name mismatch", err: err}
	case errors.As(err, &invalid):
		return &tlsError{detail: "server certificate invalid", err: err}
	case errors.As(err, &verify):
		return &tlsError{detail: "server certificate not trusted", err: err}
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports an alert from the peer as a "remote error" OpError.
		return &tlsError{detail: "server sent alert: " + strings.TrimPrefix(op.Err.Error(), "tls: "), err: err, terse: true}
	case errors.As(err, &record):
		return &tlsError{detail: "server does not speak tls", err: err}
	}
	return err
}

// drainClose discards a little of an unwanted body and closes it.
func drainClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
}

// httpDo runs a fetch over HTTP or HTTPS and reads the whole body within limit. final is the
// URL the fetch ended at when it followed a redirect, also on failure.
func (f *Fetcher) httpDo(ctx context.Context, t Target, req Request, post bool, limit int64) (*Response, string, error) {
	method := http.MethodGet
	if post {
		method = http.MethodPost
	}
	x, err := f.httpRequest(ctx, t, method, req.Body, req.User, req.Password)
	if err != nil {
		return nil, x.final, err
	}
	resp := x.resp
	defer resp.Body.Close()
	body, err := readBody(ctx, resp, limit, req.Buffer)
	if err != nil {
		return nil, x.final, err
	}
	remote := x.addr
	return &Response{
		Body:        body,
		ServerIP:    remote.Addr(),
		Port:        int(remote.Port()),
		ContentType: resp.Header.Get("Content-Type"),
		URL:         resp.Request.URL.Redacted(),
		Redirected:  x.final != "",
	}, x.final, nil
}

// readBody reads the whole body within limit: exactly Content-Length bytes when announced,
// else up to the end of the (chunked or close-delimited) body; into the buffer lend returns
// when it has room.
func readBody(ctx context.Context, resp *http.Response, limit int64, lend func(int64) []byte) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, resp.ContentLength, limit)
	}
	var buf []byte
	if lend != nil {
		buf = lend(resp.ContentLength)
	}
	var (
		body []byte
		n    int64
		err  error
	)
	if resp.ContentLength >= 0 {
		if int64(cap(buf)) >= resp.ContentLength {
			body = buf[:resp.ContentLength]
		} else {
			body = make([]byte, resp.ContentLength)
		}
		var m int
		m, err = io.ReadFull(resp.Body, body)
		n = int64(m)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // nothing of a non-empty body came
		}
	} else {
		body, err = readAll(buf[:0], io.LimitReader(resp.Body, limit+1))
		n = int64(len(body))
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, err // the deadline or the caller's cancel, classified by Fetch
	case err != nil:
		return nil, fmt.Errorf("%w: after %d bytes: %w", ErrTruncated, n, err)
	case n > limit:
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return body, nil
}

// readAll is io.ReadAll appending to dst.
func readAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)] // room to read into
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// httpPost uploads body with a POST and ignores the answer's body (SPA-BEHAVIOUR §4.5).
func (f *Fetcher) httpPost(ctx context.Context, t Target, body []byte, user, password string) error {
	x, err := f.httpRequest(ctx, t, http.MethodPost, body, user, password)
	if err != nil {
		return err
	}
	drainClose(x.resp)
	return nil
}
