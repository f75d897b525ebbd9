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
	"go.uber.org/zap"
)

// The extension's message-waiting subscription (RFC 6665, RFC 3842; SPA-BEHAVIOUR §13.9).
// [Agent.SubscribeMWI] does one SUBSCRIBE exchange — the first one, a refresh in the
// subscription's dialog, or the unsubscription — and returns what the notifier granted;
// refresh and retry timing is the phone's policy, on its clock (DECISIONS 20). The NOTIFYs of
// the subscription reach the phone as [MessageWaiting] with Subscribed set, and the one that
// ends it as [SubscriptionEnded].
//
// The request has the shape a SPA962 was seen sending: Event: message-summary, the expiry
// asked for as given (the phone asks for 2147483647, as observed), no Accept header (the
// package's default body type, RFC 3842 §3.6 allows it), Contact and From as every request.
// Its target is the decided one: sip:<mailbox>@<Voice_Mail_Server> (Config.MWIServer,
// MWIUser), else, with Config.MWIDomain, the proxy's bare domain (no user part) as observed.

// Subscription is what a notifier granted to a SUBSCRIBE (RFC 6665 §4.1.2.1).
type Subscription struct {
	// Expires is the subscription's lifetime (the 2xx's Expires, bounded by SubMinExpires
	// and SubMaxExpires); 0 for an unsubscription.
	Expires time.Duration
	// Target is the Request-URI of the subscription.
	Target string
	// New says the exchange created the subscription (the first SUBSCRIBE, or a new one
	// after the notifier forgot the old: 481).
	New bool
}

// SubscriptionEnded is a NOTIFY that ends one of the agent's subscriptions (RFC 6665
// §4.1.3: Subscription-State terminated), with the notifier's reason and retry-after. The
// agent has forgotten the subscription; the phone decides whether and when to subscribe
// again (RFC 6665 §4.2.2: deactivated and timeout at once, probation and giveup after
// RetryAfter, rejected and noresource not).
type SubscriptionEnded struct {
	Package    string
	Reason     string
	RetryAfter time.Duration
}

func (*SubscriptionEnded) sipEvent() {}

// subDialog is the subscriber side of a subscription: the dialog its SUBSCRIBE created, kept
// from one request to the next. Guarded by Agent.mu.
type subDialog struct {
	callID    string
	localTag  string
	remoteTag string
	cseq      uint32
	ruri, to  sipmsg.Uri   // of the first SUBSCRIBE
	target    sipmsg.Uri   // the notifier's Contact, once known
	routes    []sipmsg.Uri // route set, in the order of the Route headers to send
}

// established reports whether the notifier answered (or notified): requests go in the dialog.
func (d *subDialog) established() bool { return d.remoteTag != "" }

// MWITarget returns the Request-URI the message-summary subscription goes to, or an error
// when the extension has none (no Voice_Mail_Server, and no domain form).
func (a *Agent) MWITarget() (string, error) {
	u, err := a.mwiTarget()
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func (a *Agent) mwiTarget() (sipmsg.Uri, error) {
	if s := strings.TrimSpace(a.cfg.MWIServer); s != "" {
		spec, _, err := parseProxy(s)
		if err != nil {
			return sipmsg.Uri{}, fmt.Errorf("voice mail server: %w", err)
		}
		user := a.cfg.MWIUser
		if user == "" {
			user = a.cfg.UserID
		}
		return sipmsg.Uri{Scheme: "sip", User: user, Host: spec.host, Port: spec.port}, nil
	}
	if a.cfg.MWIDomain && a.hasProxy {
		return sipmsg.Uri{Scheme: "sip", Host: a.proxy.host, Port: a.proxy.port}, nil
	}
	return sipmsg.Uri{}, ErrNoMWITarget
}

// SubscribeMWI sends one SUBSCRIBE to the extension's message-summary (RFC 3842): the first
// one (a new dialog), a refresh in the subscription's dialog, or, with expires 0, the
// unsubscription. It answers up to MaxAuth digest challenges and one 423 Interval Too
// Brief; a refresh the notifier answers 481 starts a new subscription at once (RFC 6665
// §4.1.2.2). It returns what was granted, or a [*ResponseError] (489 Bad Event: the server
// has no such package), or an error wrapping [ErrTimeout], [ErrAuth], [ErrNoMWITarget].
func (a *Agent) SubscribeMWI(ctx context.Context, expires time.Duration) (*Subscription, error) {
	if a.closed.Load() {
		return nil, ErrClosed
	}
	ruri, err := a.mwiTarget()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	had := a.mwi != nil && a.mwi.established()
	if a.mwi == nil && expires > 0 {
		a.mwi = new(subDialog)
	}
	d := a.mwi
	a.mu.Unlock()
	if expires == 0 && !had {
		return &Subscription{Target: ruri.String()}, nil // nothing to end
	}
	sub, err := a.subscribe(ctx, d, "message-summary", ruri, expires)
	var re *ResponseError
	if had && expires > 0 && errors.As(err, &re) && re.Code == 481 {
		a.log.Info("subscription lost", zap.String("event", "message-summary"), zap.String("reason", "481 to the refresh: subscribing again"))
		a.resetSub(d)
		sub, err = a.subscribe(ctx, d, "message-summary", ruri, expires)
	}
	return sub, err
}

// resetSub forgets a subscription's dialog: the next SUBSCRIBE starts a new one.
func (a *Agent) resetSub(d *subDialog) {
	a.mu.Lock()
	*d = subDialog{}
	a.mu.Unlock()
}

// subscribe does one SUBSCRIBE exchange of subscription d to pkg.
func (a *Agent) subscribe(ctx context.Context, d *subDialog, pkg string, ruri sipmsg.Uri, expires time.Duration) (*Subscription, error) {
	a.mu.Lock()
	isNew := !d.established()
	if d.callID == "" {
		*d = subDialog{callID: newCallID(a.cfg.IP.String()), localTag: newTag('o', a.cfg.Ext), cseq: newCSeq(),
			ruri: ruri, to: sipmsg.Uri{Scheme: ruri.Scheme, User: ruri.User, Host: ruri.Host, Port: ruri.Port}}
	}
	a.mu.Unlock()
	var auth []sipmsg.Header
	challenges, briefs := 0, 0
	for {
		req, dest, err := a.subRequest(ctx, d, pkg, expires)
		if err != nil {
			return nil, err
		}
		for _, h := range auth {
			req.AppendHeader(h)
		}
		res, err := a.exchange(ctx, req, dest, a.cfg.timerF())
		if err != nil {
			if isNew {
				a.resetSub(d)
			}
			return nil, err
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			return a.subGranted(d, res, ruri, expires, isNew), nil
		case code == sipmsg.StatusUnauthorized || code == sipmsg.StatusProxyAuthRequired:
			if challenges >= a.maxAuth() {
				if isNew {
					a.resetSub(d)
				}
				return nil, fmt.Errorf("%w: SUBSCRIBE challenged %d times: %w", ErrAuth, challenges+1,
					&ResponseError{Method: "SUBSCRIBE", Code: code, Reason: res.Reason})
			}
			challenges++
			h, err := a.answerChallenge(res, req)
			if err != nil {
				if isNew {
					a.resetSub(d)
				}
				return nil, err
			}
			auth = []sipmsg.Header{h}
		case code == 423 && briefs == 0 && expires > 0:
			briefs++
			min, err := strconv.Atoi(strings.TrimSpace(headerValue(res, "Min-Expires", "")))
			if err != nil || min <= 0 {
				if isNew {
					a.resetSub(d)
				}
				return nil, &ResponseError{Method: "SUBSCRIBE", Code: code, Reason: res.Reason}
			}
			expires = time.Duration(min) * time.Second
		default:
			if isNew || expires == 0 {
				a.resetSub(d)
			}
			return nil, &ResponseError{Method: "SUBSCRIBE", Code: code, Reason: res.Reason}
		}
	}
}

// subRequest builds the next SUBSCRIBE of d: outside a dialog to its Request-URI, or in the
// dialog to the notifier's target along the route set (RFC 6665 §4.1.2.1, RFC 3261 §12.2.1.1).
func (a *Agent) subRequest(ctx context.Context, d *subDialog, pkg string, expires time.Duration) (*sipmsg.Request, netip.AddrPort, error) {
	a.mu.Lock()
	d.cseq++
	sd := *d
	sd.routes = append([]sipmsg.Uri(nil), d.routes...)
	a.mu.Unlock()
	ruri := sd.ruri
	if sd.established() {
		ruri = sd.target
	}
	req := a.newRequest(sipmsg.SUBSCRIBE, ruri, sd.to, sd.callID, sd.localTag, sd.cseq, a.cfg.UserAgent)
	if sd.established() {
		req.To().Params.Add("tag", sd.remoteTag)
		for _, r := range sd.routes {
			req.AppendHeader(&sipmsg.RouteHeader{Address: r})
		}
	}
	req.AppendHeader(sipmsg.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sipmsg.NewHeader("Event", pkg))
	var dest netip.AddrPort
	var err error
	switch {
	case sd.established() && a.outbound != nil && a.cfg.OutboundInDialog:
		var ts []netip.AddrPort
		if ts, err = a.res.resolve(ctx, *a.outbound); err == nil {
			dest = ts[0]
		}
	case sd.established() && len(sd.routes) > 0:
		dest, err = a.uriDest(ctx, sd.routes[0])
	case sd.established():
		dest, err = a.uriDest(ctx, sd.target)
	default:
		dest, err = a.requestDest(ctx, sd.ruri)
	}
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return req, dest, nil
}

// subGranted takes the 2xx of a SUBSCRIBE: the dialog (RFC 6665 §4.1.2.1: the notifier's
// tag, Contact and Record-Route) and the granted expiry, bounded by Sub_Min_Expires and
// Sub_Max_Expires (SPA-BEHAVIOUR §8.2).
func (a *Agent) subGranted(d *subDialog, res *sipmsg.Response, ruri sipmsg.Uri, asked time.Duration, isNew bool) *Subscription {
	sub := &Subscription{Expires: asked, Target: ruri.String(), New: isNew}
	if n, err := strconv.Atoi(strings.TrimSpace(headerValue(res, "Expires", ""))); err == nil && n >= 0 {
		sub.Expires = time.Duration(n) * time.Second
	}
	if asked == 0 {
		sub.Expires = 0
		a.resetSub(d)
		return sub
	}
	if a.cfg.SubMinExpires > 0 && sub.Expires < a.cfg.SubMinExpires {
		sub.Expires = a.cfg.SubMinExpires
	}
	if a.cfg.SubMaxExpires > 0 && sub.Expires > a.cfg.SubMaxExpires {
		sub.Expires = a.cfg.SubMaxExpires
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if tag, _ := res.To().Params.Get("tag"); tag != "" && d.remoteTag == "" {
		d.remoteTag = tag
	}
	if ct := res.Contact(); ct != nil {
		d.target = ct.Address
	}
	if isNew {
		d.routes = d.routes[:0]
		rrs := res.GetHeaders("Record-Route")
		for i := len(rrs) - 1; i >= 0; i-- { // UAC: the reverse of Record-Route
			if rr, ok := rrs[i].(*sipmsg.RecordRouteHeader); ok {
				d.routes = append(d.routes, rr.Address)
			}
		}
	}
	if d.target.Host == "" {
		d.target = d.ruri
	}
	return sub
}

// matchSub reports whether req is a NOTIFY of subscription d (RFC 6665 §4.1.3: the Call-ID
// and our tag; the notifier's tag is learnt from the first NOTIFY, which may come before the
// 2xx of the SUBSCRIBE). It adopts the dialog's remote tag and target when they are new.
func (a *Agent) matchSub(d *subDialog, req *sipmsg.Request) bool {
	cid := req.CallID()
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	a.mu.Lock()
	defer a.mu.Unlock()
	if cid == nil || d.callID == "" || string(*cid) != d.callID || toTag != d.localTag {
		return false
	}
	if d.remoteTag == "" {
		d.remoteTag = fromTag
		if ct := req.Contact(); ct != nil {
			d.target = ct.Address
		}
		rrs := req.GetHeaders("Record-Route")
		d.routes = d.routes[:0]
		for _, h := range rrs { // UAS side of the NOTIFY: Record-Route in order
			if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
				d.routes = append(d.routes, rr.Address)
			}
		}
	} else if fromTag != d.remoteTag {
		return false
	}
	return true
}

// subscriptionState reads a Subscription-State header (RFC 6665 §8.2.3): the state, the
// reason and retry-after of a terminated one.
func subscriptionState(v string) (state, reason string, retryAfter time.Duration) {
	parts := strings.Split(v, ";")
	state = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "reason":
			reason = strings.ToLower(strings.TrimSpace(val))
		case "retry-after":
			if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n >= 0 {
				retryAfter = time.Duration(n) * time.Second
			}
		}
	}
	return state, reason, retryAfter
}
