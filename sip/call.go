package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// ErrNoCall is returned for a call ID the agent does not know (or that has ended).
var ErrNoCall = errors.New("no such call")

// ErrCallState is wrapped when a call's state forbids the request (answering an outgoing
// call, a re-INVITE before the call is up).
var ErrCallState = errors.New("not possible in the call's state")

// callPhase is where a call's INVITE stands.
type callPhase uint8

const (
	phaseEarly     callPhase = iota // INVITE sent or received, no final answer yet
	phaseConfirmed                  // 2xx sent or received (and ACKed)
	phaseEnded
)

// call is one INVITE dialog of the agent (RFC 3261 §12). Its fields are guarded by mu.
type call struct {
	a        *Agent
	id       string // Call-ID
	outgoing bool

	mu           sync.Mutex
	phase        callPhase
	localTag     string
	remoteTag    string
	local        sipmsg.Uri // our From (outgoing) or To (incoming)
	localDisplay string
	remote       sipmsg.Uri // the far end's address of record
	remoteDisp   string
	target       sipmsg.Uri       // remote target (its Contact)
	routes       []sipmsg.Uri     // route set, in the order of the Route headers to send
	cseq         uint32           // our last CSeq in the dialog
	remoteCSeq   uint32           // the far end's last CSeq
	invite       *sipmsg.Request  // the INVITE (ours or theirs)
	answer       *sipmsg.Response // the 2xx that set up the dialog
	cmds         chan callCmd     // to the handler of an incoming INVITE, until its final answer
	acked        chan struct{}    // closed when the ACK of our 2xx arrived
	ackCSeq      uint32           // the CSeq of the INVITE whose 2xx acked waits for
	hangup       chan struct{}    // closed when the phone hangs up an outgoing call early
	hung         bool
	reinviting   bool
	stats        func() string // P-RTP-Stat of BYE and its 200 (call_stats.go)
	// referAnswered is closed once the answer to the far end's last REFER is sent: the
	// refer NOTIFYs wait for it (refer.go).
	referAnswered chan struct{}
	// referSent is closed once the last refer NOTIFY queued has been answered (or given
	// up): the next one waits for it, and so does a BYE of the call, so that the transferor
	// hears the outcome before the dialog ends (refer.go).
	referSent chan struct{}

	// connected is closed once CallAnswered is on its way to the phone (or the call could
	// not get there): afterConnected orders the in-dialog events after it (call_order.go).
	connected chan struct{}
	connOnce  sync.Once

	// RFC 3262 (prack.go). Outgoing: the last RSeq PRACKed in each early dialog (by the far
	// end's tag). Incoming: whether the caller takes reliable 1xx, the RSeq of the last one
	// sent, and the PRACKs for the INVITE's handler.
	rseqs   map[string]uint32
	rel100  bool
	relRSeq uint32
	pracks  chan uint32
}

// callCmd is the phone's decision about an incoming INVITE.
type callCmd struct {
	code     int
	reason   string
	sdp      []byte
	contact  string // 3xx: the new target
	diverted string // 3xx: the Diversion reason
}

// dialogKey identifies a dialog from the agent's side: Call-ID, local tag, remote tag.
func dialogKey(callID, local, remote string) string { return callID + "|" + local + "|" + remote }

func (a *Agent) addCall(c *call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls == nil {
		a.calls = map[string]*call{}
	}
	a.calls[c.id] = c
}

func (a *Agent) dropCall(c *call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.calls[c.id] == c {
		delete(a.calls, c.id)
	}
}

func (a *Agent) call(id string) (*call, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls[id]
	if c == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoCall, id)
	}
	return c, nil
}

// matchDialog finds the call of an in-dialog request (its To tag is ours).
func (a *Agent) matchDialog(req *sipmsg.Request) *call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	a.mu.Lock()
	c := a.calls[string(*cid)]
	a.mu.Unlock()
	if c == nil {
		return nil
	}
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.localTag != toTag || (c.remoteTag != "" && c.remoteTag != fromTag) {
		return nil
	}
	return c
}

// emit hands an event to the phone.
func (a *Agent) emit(ev Event) {
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(ev)
	}
}

// goCall runs fn on a goroutine the agent waits for when it closes.
func (a *Agent) goCall(fn func()) bool {
	if !a.handlers.enter() {
		return false
	}
	go func() {
		defer a.handlers.leave()
		fn()
	}()
	return true
}

// DialRequest is a call the phone places (SPA-BEHAVIOUR §13.2).
type DialRequest struct {
	// To is the target: a SIP URI, or a user (number) at the extension's proxy.
	To string
	// SDP is the offer.
	SDP []byte
	// Expires bounds the wait for an answer (INVITE_Expires), sent as the Expires header;
	// 0: Timer B only.
	Expires time.Duration
	// MaxRedirects bounds the 3xx answers followed (Max_Redirection).
	MaxRedirects int
	// Replaces, when set, asks the target to replace that dialog (RFC 3891, attended
	// transfer); ReferredBy is the transferor (RFC 3892).
	Replaces, ReferredBy string
	// Join, when set, asks the target to join this call to that dialog (RFC 3911: a
	// barge-in on a shared line).
	Join string
	// Anonymous hides the caller's identity (Block_CID): From anonymous (RFC 3323).
	Anonymous bool
}

// TargetURI turns a dialled string into the Request-URI of a call: a SIP URI as it is, a
// user@host as sip:user@host, a number as sip:number@proxy.
func (a *Agent) TargetURI(to string) (sipmsg.Uri, error) {
	to = strings.TrimSpace(to)
	var u sipmsg.Uri
	if to == "" {
		return u, errors.New("empty target")
	}
	s := to
	if !strings.HasPrefix(strings.ToLower(s), "sip:") && !strings.HasPrefix(strings.ToLower(s), "sips:") {
		if !strings.Contains(s, "@") {
			if !a.hasProxy {
				return u, fmt.Errorf("%w: %q has no host and the extension has no proxy", ErrNoProxy, to)
			}
			s = s + "@" + a.proxy.hostport()
		}
		s = "sip:" + s
	}
	if err := sipmsg.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("target %q: %w", to, err)
	}
	return u, nil
}

// Dial places a call: the INVITE goes out on a goroutine of the agent and everything that
// follows comes back as events keyed by the returned ID ([CallProgress], [CallAnswered],
// [CallFailed], later [CallEnded]). Digest challenges (401/407) are answered with the
// extension's credentials; 3xx answers are followed up to MaxRedirects; the call is given up
// (CANCEL) when Expires passes without an answer.
func (a *Agent) Dial(req DialRequest) (string, error) {
	if a.closed.Load() {
		return "", ErrClosed
	}
	ruri, err := a.TargetURI(req.To)
	if err != nil {
		return "", err
	}
	c := &call{a: a, id: newCallID(a.cfg.IP.String()), outgoing: true, localTag: newTag('o', a.cfg.Ext),
		local: a.aor(), localDisplay: a.cfg.DisplayName, remote: ruri, target: ruri, cseq: newCSeq(),
		hangup: make(chan struct{}), connected: make(chan struct{})}
	if req.Anonymous {
		c.local = sipmsg.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
		c.localDisplay = "Anonymous"
	}
	a.addCall(c)
	if !a.goCall(func() { c.dial(req, ruri) }) {
		a.dropCall(c)
		return "", ErrClosed
	}
	return c.id, nil
}

// dial runs an outgoing call's INVITE until it is answered, fails or is given up.
func (c *call) dial(req DialRequest, ruri sipmsg.Uri) {
	a := c.a
	log := a.log.With(zap.String("call_id", c.id))
	fail := func(code int, reason string) {
		c.mu.Lock()
		c.phase = phaseEnded
		c.mu.Unlock()
		a.dropCall(c)
		log.Info("call failed", zap.Int("code", code), zap.String("reason", reason))
		a.emit(&CallFailed{ID: c.id, Code: code, Reason: reason})
	}
	var expiry <-chan time.Time
	if req.Expires > 0 {
		t := time.NewTimer(req.Expires)
		defer t.Stop()
		expiry = t.C
	}
	var auth []sipmsg.Header
	challenges, redirects := 0, 0
	for {
		c.mu.Lock()
		c.cseq++
		cseq := c.cseq
		c.mu.Unlock()
		inv := a.newRequest(sipmsg.INVITE, ruri, c.remote, c.id, c.localTag, cseq, a.cfg.UserAgent)
		if from := inv.From(); from != nil {
			from.Address, from.DisplayName = c.local, c.localDisplay
		}
		if req.Expires > 0 {
			inv.AppendHeader(sipmsg.NewHeader("Expires", strconv.Itoa(int(req.Expires/time.Second))))
		}
		a.addCommonHeaders(inv)
		if req.Replaces != "" {
			inv.AppendHeader(sipmsg.NewHeader("Replaces", req.Replaces))
			inv.AppendHeader(sipmsg.NewHeader("Require", "replaces"))
		}
		if req.Join != "" {
			inv.AppendHeader(sipmsg.NewHeader("Join", req.Join))
			inv.AppendHeader(sipmsg.NewHeader("Require", "join"))
		}
		if req.ReferredBy != "" {
			inv.AppendHeader(sipmsg.NewHeader("Referred-By", req.ReferredBy))
		}
		if req.Anonymous {
			inv.AppendHeader(sipmsg.NewHeader("Privacy", "id"))
		}
		for _, h := range auth {
			inv.AppendHeader(h)
		}
		if req.SDP != nil {
			inv.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
			inv.SetBody(req.SDP)
		}
		c.mu.Lock()
		c.invite = inv
		c.mu.Unlock()
		dest, err := a.requestDest(context.Background(), ruri)
		if err != nil {
			fail(503, err.Error())
			return
		}
		res, err := c.runInvite(inv, dest, expiry, log)
		switch {
		case errors.Is(err, errHungUp):
			fail(487, "cancelled by the phone")
			return
		case errors.Is(err, errExpired):
			fail(408, "no answer within INVITE_Expires")
			return
		case err != nil:
			fail(408, err.Error())
			return
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			c.established(res, log)
			return
		case (code == 401 || code == 407) && challenges < a.maxAuth():
			challenges++
			h, err := a.answerChallenge(res, inv)
			if err != nil {
				fail(code, err.Error())
				return
			}
			auth = []sipmsg.Header{h}
		case code >= 300 && code < 400 && redirects < req.MaxRedirects:
			next := res.Contact()
			if next == nil {
				fail(code, res.Reason)
				return
			}
			redirects++
			log.Info("call redirected", zap.Int("code", code), zap.String("to", next.Address.String()))
			ruri = next.Address
			c.mu.Lock()
			c.remote, c.target = ruri, ruri
			// An early dialog of the old target (a reliable 1xx) is over.
			c.remoteTag, c.routes, c.rseqs = "", nil, nil
			c.mu.Unlock()
			auth = nil
		default:
			fail(code, res.Reason)
			return
		}
	}
}

var (
	errHungUp  = errors.New("hung up")
	errExpired = errors.New("INVITE expired")
)

// runInvite sends one INVITE and waits for its final answer, passing provisional answers to
// the phone. When the phone hangs up, or expiry passes, it CANCELs (RFC 3261 §9.1) once a
// provisional answer has come, and waits for the INVITE to end.
func (c *call) runInvite(inv *sipmsg.Request, dest netip.AddrPort, expiry <-chan time.Time, log *zap.Logger) (*sipmsg.Response, error) {
	a := c.a
	if err := a.prepareWithin(inv, dest, a.cfg.timerF()); err != nil {
		return nil, err
	}
	tx, err := a.client().TransactionRequest(context.Background(), inv, noBuild)
	if err != nil {
		return nil, err
	}
	provisional := false
	var giveUp error
	cancel := func(why error) {
		if giveUp != nil {
			return
		}
		giveUp = why
		if provisional {
			c.sendCancel(inv, dest)
		}
	}
	hangup := c.hangup
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				if rseq, ok := reliableRSeq(res); ok && a.cfg.Rel100 && !c.onReliable(res, rseq, log) {
					continue // a retransmission, or out of order (RFC 3262 §4)
				}
				if res.StatusCode > 100 {
					if !provisional && giveUp != nil {
						c.sendCancel(inv, dest)
					}
					provisional = true
					if giveUp == nil {
						a.emit(&CallProgress{ID: c.id, Code: res.StatusCode, Reason: res.Reason, SDP: sdpBody(res)})
					}
				}
				continue
			}
			if res.IsSuccess() {
				// A 2xx answers the INVITE even after a CANCEL (RFC 3261 §9.1): ACK it and
				// end the call it set up.
				c.ackRetransmissions(tx)
				if giveUp != nil {
					c.mu.Lock()
					c.answer = res
					c.adoptDialog(res)
					c.mu.Unlock()
					c.sendAck(res)
					c.byeNow(log)
					return nil, giveUp
				}
				return res, nil
			}
			tx.Terminate()
			if giveUp != nil {
				return nil, giveUp
			}
			return res, nil
		case <-tx.Done():
			if giveUp != nil {
				return nil, giveUp
			}
			return nil, fmt.Errorf("%w: %v", ErrTimeout, tx.Err())
		case <-hangup:
			hangup = nil
			cancel(errHungUp)
		case <-expiry:
			expiry = nil
			cancel(errExpired)
		case <-a.closing:
			tx.Terminate()
			return nil, ErrClosed
		}
	}
}

// ackRetransmissions answers retransmitted 2xx with the same ACK (RFC 3261 §13.2.2.4).
func (c *call) ackRetransmissions(tx sipmsg.ClientTransaction) {
	tx.OnRetransmission(func(res *sipmsg.Response) {
		if res.IsSuccess() {
			c.sendAck(res)
		}
	})
}

// sendCancel CANCELs our INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To, top Via
// and CSeq number.
func (c *call) sendCancel(inv *sipmsg.Request, dest netip.AddrPort) {
	a := c.a
	cr := sipmsg.NewRequest(sipmsg.CANCEL, inv.Recipient)
	cr.AppendHeader(sipmsg.HeaderClone(inv.Via()))
	cr.AppendHeader(sipmsg.HeaderClone(inv.From()))
	cr.AppendHeader(sipmsg.HeaderClone(inv.To()))
	cr.AppendHeader(sipmsg.HeaderClone(inv.CallID()))
	cr.AppendHeader(&sipmsg.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	mf := sipmsg.MaxForwardsHeader(a.cfg.MaxForwards)
	cr.AppendHeader(&mf)
	if a.cfg.UserAgent != "" {
		cr.AppendHeader(sipmsg.NewHeader("User-Agent", a.cfg.UserAgent))
	}
	cr.SetTransport(inv.Transport())
	go func() {
		if _, err := a.exchange(context.Background(), cr, dest, a.cfg.timerF()); err != nil {
			a.log.Debug("cancel not answered", zap.String("call_id", c.id), zap.Error(err))
		}
	}()
}

// established takes the 2xx of our INVITE: the dialog's remote tag, target and route set
// (RFC 3261 §12.1.2), the ACK, and the answer to the phone.
func (c *call) established(res *sipmsg.Response, log *zap.Logger) {
	c.mu.Lock()
	c.answer = res
	c.adoptDialog(res)
	c.phase = phaseConfirmed
	hung := c.hung
	c.mu.Unlock()
	c.sendAck(res)
	log.Info("call answered", zap.String("remote", c.remote.String()))
	c.a.emit(&CallAnswered{ID: c.id, SDP: sdpBody(res)})
	c.markConnected()
	if hung {
		c.byeNow(log)
	}
}

// adoptDialog reads the dialog's state from the 2xx of our INVITE. Locked.
func (c *call) adoptDialog(res *sipmsg.Response) {
	if to := res.To(); to != nil {
		c.remoteTag, _ = to.Params.Get("tag")
		c.remoteDisp = to.DisplayName
	}
	if ct := res.Contact(); ct != nil {
		c.target = ct.Address
	}
	c.routes = c.routes[:0]
	rrs := res.GetHeaders("Record-Route")
	for i := len(rrs) - 1; i >= 0; i-- { // UAC: the reverse of Record-Route
		if rr, ok := rrs[i].(*sipmsg.RecordRouteHeader); ok {
			c.routes = append(c.routes, rr.Address)
		}
	}
}

// sendAck ACKs the 2xx of our INVITE: a new transaction-less request in the dialog with the
// INVITE's CSeq number (RFC 3261 §13.2.2.4).
func (c *call) sendAck(res *sipmsg.Response) {
	c.mu.Lock()
	cseq := c.invite.CSeq().SeqNo
	c.mu.Unlock()
	ack := c.inDialog(sipmsg.ACK, cseq)
	dest, err := c.dest()
	if err != nil {
		c.a.log.Debug("ack not sent", zap.String("call_id", c.id), zap.Error(err))
		return
	}
	ack.SetBody(nil)
	if err := c.a.prepareWithin(ack, dest, c.a.cfg.timerF()); err != nil {
		c.a.log.Debug("ack not sent", zap.String("call_id", c.id), zap.Error(err))
		return
	}
	if err := c.a.client().WriteRequest(ack, noBuild); err != nil {
		c.a.log.Debug("ack not sent", zap.String("call_id", c.id), zap.Error(err))
	}
}

// inDialog builds a request in the call's dialog (RFC 3261 §12.2.1.1): Request-URI the remote
// target (or the first route for a strict router), Route from the route set, our tag and the
// far end's, cseq as given.
func (c *call) inDialog(method sipmsg.RequestMethod, cseq uint32) *sipmsg.Request {
	a := c.a
	c.mu.Lock()
	defer c.mu.Unlock()
	req := a.newRequest(method, c.target, c.remote, c.id, c.localTag, cseq, a.cfg.UserAgent)
	if from := req.From(); from != nil {
		from.Address, from.DisplayName = c.local, c.localDisplay
	}
	if to := req.To(); to != nil {
		to.DisplayName = c.remoteDisp
		if c.remoteTag != "" {
			to.Params.Add("tag", c.remoteTag)
		}
	}
	for _, r := range c.routes {
		req.AppendHeader(&sipmsg.RouteHeader{Address: r})
	}
	return req
}

// send sends req, a request in c's dialog, to the dialog's next hop (dest) and waits for its
// final response, within Timer F.
func (c *call) send(req *sipmsg.Request) (*sipmsg.Response, error) {
	dest, err := c.dest()
	if err != nil {
		return nil, err
	}
	return c.a.exchange(context.Background(), req, dest, c.a.cfg.timerF())
}

// dest is where the call's in-dialog requests go: the outbound proxy when it is used in
// dialogs, else the first route, else the remote target (RFC 3261 §12.2.1.1, §8.1.2).
func (c *call) dest() (netip.AddrPort, error) {
	a := c.a
	if a.outbound != nil && a.cfg.OutboundInDialog {
		ts, err := a.res.resolve(context.Background(), *a.outbound)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return ts[0], nil
	}
	c.mu.Lock()
	u := c.target
	if len(c.routes) > 0 {
		u = c.routes[0]
	}
	c.mu.Unlock()
	return a.uriDest(context.Background(), u)
}

// uriDest resolves a URI's host and port (RFC 3263, A records; SRV for a name without port
// when the extension uses SRV).
func (a *Agent) uriDest(ctx context.Context, u sipmsg.Uri) (netip.AddrPort, error) {
	ts, err := a.res.resolve(ctx, proxySpec{host: strings.Trim(u.Host, "[]"), port: u.Port})
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ts[0], nil
}

// requestDest is where a new call goes: the outbound proxy when one is used, the proxy for a
// target in its domain, else the target's own host.
func (a *Agent) requestDest(ctx context.Context, ruri sipmsg.Uri) (netip.AddrPort, error) {
	if a.outbound != nil || (a.hasProxy && strings.EqualFold(ruri.Host, a.proxy.host)) {
		ts, err := a.targets(ctx)
		if err != nil {
			return netip.AddrPort{}, err
		}
		a.mu.Lock()
		i := a.reg.target
		a.mu.Unlock()
		if i >= len(ts) {
			i = 0
		}
		return ts[i], nil
	}
	return a.uriDest(ctx, ruri)
}

// addCommonHeaders adds Allow and Supported to requests that set up or change a dialog.
func (a *Agent) addCommonHeaders(req *sipmsg.Request) {
	if len(a.cfg.Allow) > 0 {
		req.AppendHeader(a.allowHeader())
	}
	if len(a.cfg.Supported) > 0 {
		req.AppendHeader(sipmsg.NewHeader("Supported", strings.Join(a.cfg.Supported, ", ")))
	}
}

// sdpBody returns a message's body when it is SDP.
func sdpBody(m interface {
	Body() []byte
	ContentType() *sipmsg.ContentTypeHeader
}) []byte {
	b := m.Body()
	if len(b) == 0 {
		return nil
	}
	if ct := m.ContentType(); ct != nil && !strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp") {
		return nil
	}
	return b
}

// Hangup ends a call in whatever state it is: CANCEL of an outgoing call not answered yet
// (RFC 3261 §9.1), 603 Decline to an incoming one not answered yet, BYE of a call that is up.
// The outcome comes as [CallFailed] or [CallEnded].
func (a *Agent) Hangup(id string) error {
	c, err := a.call(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	phase, outgoing := c.phase, c.outgoing
	c.mu.Unlock()
	switch {
	case phase == phaseEarly && outgoing:
		c.mu.Lock()
		if !c.hung {
			c.hung = true
			close(c.hangup)
		}
		c.mu.Unlock()
		return nil
	case phase == phaseEarly:
		return a.Reject(id, 603, "Decline")
	case phase == phaseConfirmed:
		if !a.goCall(func() { c.bye() }) {
			return ErrClosed
		}
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNoCall, id)
}

// bye sends BYE and reports the end of the call.
func (c *call) bye() {
	log := c.a.log.With(zap.String("call_id", c.id))
	c.byeNow(log)
	c.a.emit(&CallEnded{ID: c.id, Reason: "hung up"})
}

// byeNow sends BYE (RFC 3261 §15.1.1) and waits for its answer, bounded by Timer F.
func (c *call) byeNow(log *zap.Logger) {
	c.mu.Lock()
	if c.phase == phaseEnded {
		c.mu.Unlock()
		return
	}
	c.phase = phaseEnded
	c.cseq++
	cseq := c.cseq
	notified := c.referSent
	c.mu.Unlock()
	c.a.dropCall(c)
	if notified != nil { // each NOTIFY is bounded by Timer F
		select {
		case <-notified:
		case <-c.a.closing:
		}
	}
	req := c.inDialog(sipmsg.BYE, cseq)
	if h := c.statsHeader(); h != nil {
		req.AppendHeader(h)
	}
	if _, err := c.send(req); err != nil {
		log.Info("bye not answered", zap.Error(err))
		return
	}
	log.Info("call ended", zap.String("by", "phone"))
}
