package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Registration is what a registrar granted (RFC 3261 §10.3).
type Registration struct {
	// Expires is the binding's lifetime the registrar granted, bounded by RegMinExpires and
	// RegMaxExpires; 0 for an unregistration.
	Expires time.Duration
	// Server is the address that answered.
	Server netip.AddrPort
	// Mapped is the address the registrar saw the request come from (Via received/rport),
	// when it says so: the phone's NAT mapping.
	Mapped netip.AddrPort
}

// Register sends one REGISTER for the extension's binding, asking for expires (0
// unregisters), answers up to MaxAuth digest challenges (401 WWW-Authenticate and 407
// Proxy-Authenticate, MD5 and SHA-256, RFC 2617/7616/8760), follows one 423 Interval Too
// Brief, and tries the proxy's next address when one does not answer. It returns what the
// registrar granted, or the final error: a [*ResponseError], or one wrapping [ErrTimeout],
// [ErrAuth], [ErrResolve], [ErrNoProxy]. Refresh and retry timing is the caller's policy.
func (a *Agent) Register(ctx context.Context, expires time.Duration) (*Registration, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	if !a.hasProxy {
		if a.proxyErr != nil {
			return nil, a.proxyErr
		}
		return nil, ErrNoProxy
	}
	dests, err := a.targets(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	start := a.reg.target
	a.mu.Unlock()
	if start >= len(dests) {
		start = 0
	}
	var lastErr error
	for i := range dests {
		idx := (start + i) % len(dests)
		reg, err := a.registerAt(ctx, dests[idx], expires)
		if err == nil || !failover(err) || ctx.Err() != nil {
			if err == nil {
				a.mu.Lock()
				a.reg.target = idx
				a.regSrv = dests[idx]
				if expires == 0 {
					a.regSrv = netip.AddrPort{} // nothing to lose any more
				}
				a.mu.Unlock()
			}
			return reg, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// failover reports whether an error means "this address does not answer": the next one is
// tried (RFC 3263 §4.3).
func failover(err error) bool {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Code == 503
	}
	return !errors.Is(err, ErrAuth) && !errors.Is(err, ErrClosed)
}

// registerAt does the REGISTER exchange with one address.
func (a *Agent) registerAt(ctx context.Context, dest netip.AddrPort, expires time.Duration) (*Registration, error) {
	ruri := sipmsg.Uri{Scheme: "sip", Host: a.proxy.host, Port: a.proxy.port}
	ua := a.cfg.RegUserAgent
	if ua == "" {
		ua = a.cfg.UserAgent
	}
	var auth []sipmsg.Header
	var used *digestUse // the challenge the request answers, when it answers one
	challenges, briefs := 0, 0
	for {
		a.mu.Lock()
		a.reg.cseq++
		callID, tag, cseq := a.reg.callID, a.reg.fromTag, a.reg.cseq
		cached := a.reg.auth
		a.mu.Unlock()
		req := a.newRequest(sipmsg.REGISTER, ruri, a.aor(), callID, tag, cseq, ua)
		if auth == nil && cached != nil && a.cfg.ReuseNonce {
			// The last challenge answered again, its nonce count one up (RFC 3261 §22.1,
			// RFC 7616 §3.4): a registrar that still takes the nonce answers at once.
			if h, u, err := a.reuseChallenge(cached, req); err == nil {
				auth, used = []sipmsg.Header{h}, u
			}
		}
		req.AppendHeader(sipmsg.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		if len(a.cfg.Allow) > 0 {
			req.AppendHeader(a.allowHeader())
		}
		for _, h := range auth {
			req.AppendHeader(h)
		}
		res, err := a.exchange(ctx, req, dest, a.cfg.timerF())
		if err != nil {
			return nil, err
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			a.mu.Lock()
			a.reg.auth = used
			a.mu.Unlock()
			return a.granted(res, dest, expires), nil
		case code == sipmsg.StatusUnauthorized || code == sipmsg.StatusProxyAuthRequired:
			a.mu.Lock()
			a.reg.auth = nil
			a.mu.Unlock()
			if challenges >= a.maxAuth() {
				return nil, fmt.Errorf("%w: REGISTER challenged %d times: %w", ErrAuth, challenges+1,
					&ResponseError{Method: "REGISTER", Code: code, Reason: res.Reason})
			}
			challenges++
			h, u, err := a.answerChallengeUse(res, req)
			if err != nil {
				return nil, err
			}
			auth, used = []sipmsg.Header{h}, u
		case code == 423 && briefs == 0:
			briefs++
			min, err := strconv.Atoi(strings.TrimSpace(headerValue(res, "Min-Expires", "")))
			if err != nil || min <= 0 {
				return nil, &ResponseError{Method: "REGISTER", Code: code, Reason: res.Reason}
			}
			expires = time.Duration(min) * time.Second
		default:
			return nil, &ResponseError{Method: "REGISTER", Code: code, Reason: res.Reason}
		}
	}
}

func (a *Agent) maxAuth() int {
	if a.cfg.MaxAuth > 0 {
		return a.cfg.MaxAuth
	}
	return 2
}

// answerChallenge builds the Authorization (401) or Proxy-Authorization (407) header that
// answers res for req: the first challenge whose algorithm the phone knows, in the server's
// order (RFC 8760 §2.4), with the extension's digest user name and password.
func (a *Agent) answerChallenge(res *sipmsg.Response, req *sipmsg.Request) (sipmsg.Header, error) {
	h, _, err := a.answerChallengeUse(res, req)
	return h, err
}

// digestUse is a challenge answered, kept for the next REGISTER (Config.ReuseNonce).
type digestUse struct {
	chal   *digest.Challenge
	header string // Authorization or Proxy-Authorization
	count  int    // the nonce count last sent
	// value is the answer as sent, for a challenge without qop: the same request answers it
	// with the same value (no nonce count, no cnonce), so it is not computed again.
	value  string
	method string
	uri    string
}

// reuseChallenge answers a kept challenge again for req, the nonce count one up. The kept
// value is not changed: the count is taken when the registrar accepts it.
func (a *Agent) reuseChallenge(u *digestUse, req *sipmsg.Request) (sipmsg.Header, *digestUse, error) {
	method, uri := req.Method.String(), req.Recipient.String()
	if u.value != "" && u.method == method && u.uri == uri {
		return sipmsg.NewHeader(u.header, u.value), u, nil
	}
	next := &digestUse{chal: u.chal, header: u.header, count: u.count + 1, method: method, uri: uri}
	cred, err := digest.Digest(u.chal, digest.Options{
		Method: req.Method.String(), URI: req.Recipient.String(), Count: next.count,
		Username: a.cfg.authUser(), Password: a.cfg.Password,
	})
	if err != nil {
		return nil, nil, err
	}
	v := cred.String()
	if len(u.chal.QOP) == 0 {
		next.value = v
	}
	return sipmsg.NewHeader(u.header, v), next, nil
}

// answerChallengeUse is answerChallenge, and says which challenge it answered.
func (a *Agent) answerChallengeUse(res *sipmsg.Response, req *sipmsg.Request) (sipmsg.Header, *digestUse, error) {
	ask, answer := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sipmsg.StatusProxyAuthRequired {
		ask, answer = "Proxy-Authenticate", "Proxy-Authorization"
	}
	if a.cfg.Password == "" && a.cfg.authUser() == "" {
		return nil, nil, fmt.Errorf("%w: %s challenged and the extension has no credentials", ErrAuth, req.Method)
	}
	var algs []string
	for _, h := range res.GetHeaders(ask) {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			continue
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		if !digest.CanDigest(chal) {
			algs = append(algs, chal.Algorithm)
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{
			Method: req.Method.String(), URI: req.Recipient.String(), Count: 1,
			Username: a.cfg.authUser(), Password: a.cfg.Password,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrAuth, err)
		}
		v := cred.String()
		u := &digestUse{chal: chal, header: answer, count: 1, method: req.Method.String(), uri: req.Recipient.String()}
		if len(chal.QOP) == 0 {
			u.value = v
		}
		return sipmsg.NewHeader(answer, v), u, nil
	}
	return nil, nil, fmt.Errorf("%w: %s challenge with no digest the phone can answer (algorithms %v)", ErrAuth, req.Method, algs)
}

// granted reads the binding's lifetime from a 2xx: the expires parameter of the phone's own
// Contact, else the Expires header, else what was asked (RFC 3261 §10.2.4), bounded by
// Reg_Min_Expires and Reg_Max_Expires (SPA-BEHAVIOUR §8.2).
func (a *Agent) granted(res *sipmsg.Response, dest netip.AddrPort, asked time.Duration) *Registration {
	reg := &Registration{Server: dest, Expires: asked}
	if asked == 0 {
		reg.Expires = 0
	} else {
		found := false
		for _, h := range res.GetHeaders("Contact") {
			c, ok := h.(*sipmsg.ContactHeader)
			if !ok || !a.isOurContact(c) {
				continue
			}
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					reg.Expires, found = time.Duration(n)*time.Second, true
				}
			}
			break
		}
		if !found {
			if n, err := strconv.Atoi(strings.TrimSpace(headerValue(res, "Expires", ""))); err == nil {
				reg.Expires = time.Duration(n) * time.Second
			}
		}
		if a.cfg.RegMinExpires > 0 && reg.Expires < a.cfg.RegMinExpires {
			reg.Expires = a.cfg.RegMinExpires
		}
		if a.cfg.RegMaxExpires > 0 && reg.Expires > a.cfg.RegMaxExpires {
			reg.Expires = a.cfg.RegMaxExpires
		}
	}
	if via := res.Via(); via != nil {
		host, _ := via.Params.Get("received")
		port, _ := via.Params.Get("rport")
		ip, err1 := netip.ParseAddr(host)
		p, err2 := strconv.Atoi(port)
		if err1 == nil && err2 == nil && p > 0 && p < 65536 {
			reg.Mapped = netip.AddrPortFrom(ip, uint16(p))
		}
	}
	return reg
}

// isOurContact reports whether a Contact of a REGISTER answer is the phone's binding.
func (a *Agent) isOurContact(c *sipmsg.ContactHeader) bool {
	u, our := c.Address, a.contact().Address
	return strings.EqualFold(u.User, our.User) && u.Port == our.Port &&
		strings.EqualFold(strings.Trim(u.Host, "[]"), our.Host)
}
