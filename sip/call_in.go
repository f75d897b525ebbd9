package sip

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// onInvite handles an INVITE: a new call, or a re-INVITE in a dialog the agent has.
func (a *Agent) onInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if tag, _ := req.To().Params.Get("tag"); tag != "" {
		c := a.matchDialog(req)
		if c == nil {
			a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
			return
		}
		c.onReinvite(req, tx)
		return
	}
	if req.Contact() == nil || req.CSeq() == nil || req.From() == nil {
		a.respond(req, tx, sipmsg.StatusBadRequest, "Missing Contact")
		return
	}
	if ct := req.ContentType(); ct != nil && len(req.Body()) > 0 && !strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp") {
		a.respond(req, tx, sipmsg.StatusUnsupportedMediaType, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/sdp"))
		return
	}
	if rq := headerValue(req, "Require", ""); rq != "" {
		for _, opt := range strings.Split(rq, ",") {
			o := strings.TrimSpace(strings.ToLower(opt))
			if o != "replaces" && o != "join" && o != "" && (o != opt100rel || !a.cfg.Rel100) {
				a.respond(req, tx, 420, "Bad Extension", sipmsg.NewHeader("Unsupported", o))
				return
			}
		}
	}
	authed := false
	if a.cfg.InviteAuth {
		switch a.checkAuth(req) {
		case authOK:
			authed = true
		case authStale:
			a.challenge(req, tx, true)
			return
		default:
			a.challenge(req, tx, false)
			return
		}
	}
	replaces := ""
	if rh := headerValue(req, "Replaces", ""); rh != "" {
		id, code, reason := a.matchReplaces(rh)
		if code != 0 {
			a.log.Info("call refused", zap.Int("code", code), zap.String("reason", reason), zap.String("replaces", rh))
			a.respond(req, tx, code, reason)
			return
		}
		replaces = id
	}
	join := ""
	if jh := headerValue(req, "Join", ""); jh != "" {
		id, code, reason := "", 400, "Replaces and Join Together" // RFC 3911 §4
		if replaces == "" {
			id, code, reason = a.matchReplaces(jh) // the same dialog rules (RFC 3911 §3)
		}
		if code != 0 {
			a.log.Info("call refused", zap.Int("code", code), zap.String("reason", reason), zap.String("join", jh))
			a.respond(req, tx, code, reason)
			return
		}
		join = id
	}
	cid := string(*req.CallID())
	if old, _ := a.call(cid); old != nil {
		a.respond(req, tx, 482, "Loop Detected")
		return
	}
	c := &call{a: a, id: cid, localTag: newTag('i', a.cfg.Ext), cmds: make(chan callCmd, 4), acked: make(chan struct{}), ackCSeq: req.CSeq().SeqNo,
		invite: req, target: req.Contact().Address, remoteCSeq: req.CSeq().SeqNo, cseq: newCSeq(), connected: make(chan struct{})}
	// Every answer of this INVITE carries our tag; the 487 sipgo sends on CANCEL too.
	req.To().Params.Add("tag", c.localTag)
	c.local, c.localDisplay = req.To().Address, a.cfg.DisplayName
	c.remote, c.remoteDisp = req.From().Address, req.From().DisplayName
	c.remoteTag, _ = req.From().Params.Get("tag")
	for _, h := range req.GetHeaders("Record-Route") { // UAS: Record-Route in order
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			c.routes = append(c.routes, rr.Address)
		}
	}
	if a.cfg.Rel100 && (hasOption(req, "Supported", "k", opt100rel) || hasOption(req, "Require", "", opt100rel)) {
		c.rel100, c.pracks = true, make(chan uint32, 1)
	}
	a.addCall(c)
	// The CANCEL's callback before the 100: a caller may CANCEL as soon as it has the 100
	// (RFC 3261 §9.1), and one taken before the callback was there would call nothing (the
	// call would end only with its transaction, as "transaction ended").
	canceled := make(chan struct{})
	var cancelOnce sync.Once
	cancel := func() { cancelOnce.Do(func() { close(canceled) }) }
	if !tx.OnCancel(func(*sipmsg.Request) { cancel() }) && errors.Is(tx.Err(), sipmsg.ErrTransactionCanceled) {
		cancel()
	}
	a.respond(req, tx, 100, "Trying")

	ev := &IncomingCall{ID: cid, From: party(req.From().DisplayName, req.From().Address),
		To: party(req.To().DisplayName, req.To().Address), SDP: sdpBody(req), Authenticated: authed,
		Replaces: replaces, Join: join, ReferredBy: headerValue(req, "Referred-By", "b")}
	ev.Anonymous = isAnonymous(req)
	ev.AutoAnswer = isAutoAnswer(req)
	log := a.log.With(zap.String("call_id", cid))
	log.Info("call offered", zap.String("from", ev.From.URI), zap.Bool("auto_answer", ev.AutoAnswer))
	a.emit(ev)
	c.serveInvite(req, tx, canceled, log)
}

// serveInvite answers an incoming INVITE as the phone decides, until its final answer and,
// for a 2xx, its ACK (the 2xx is retransmitted meanwhile, RFC 6026 §7.1).
func (c *call) serveInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction, canceled <-chan struct{}, log *zap.Logger) {
	a := c.a
	expires := time.Duration(0)
	if v, err := strconv.Atoi(strings.TrimSpace(headerValue(req, "Expires", ""))); err == nil && v > 0 {
		expires = time.Duration(v) * time.Second
	}
	var expiry <-chan time.Time
	if expires > 0 {
		t := time.NewTimer(expires)
		defer t.Stop()
		expiry = t.C
	}
	end := func(code int, reason string) {
		c.mu.Lock()
		c.phase = phaseEnded
		c.mu.Unlock()
		a.dropCall(c)
		a.emit(&CallFailed{ID: c.id, Code: code, Reason: reason})
	}
	var rp reliableProvisional // RFC 3262 §3, when the caller takes reliable 1xx
	defer rp.stop()
	// do carries out one decision of the phone; it reports whether the INVITE is answered.
	do := func(cmd callCmd) bool {
		switch {
		case cmd.code < 300 && rp.out != nil:
			// While a reliable 1xx waits for its PRACK, the next 1xx and the 2xx wait too
			// (RFC 3262 §3 forbids the first; the second keeps the order a caller that
			// asked for PRACK expects, as pjsip's 100rel does).
			rp.queued = &cmd
		case cmd.code < 200 && c.rel100 && cmd.code > 100:
			c.sendReliable(req, tx, &rp, cmd, log)
		case cmd.code < 200:
			a.respond(req, tx, cmd.code, cmd.reason, a.contactHeader())
		case cmd.code < 300:
			c.answerInvite(req, tx, cmd.sdp, log)
			return true
		default:
			var extra []sipmsg.Header
			if cmd.contact != "" {
				extra = append(extra, sipmsg.NewHeader("Contact", "<"+cmd.contact+">"))
			}
			if cmd.diverted != "" {
				extra = append(extra, sipmsg.NewHeader("Diversion", cmd.diverted))
			}
			a.respond(req, tx, cmd.code, cmd.reason, extra...)
			log.Info("call refused", zap.Int("code", cmd.code), zap.String("reason", cmd.reason))
			end(cmd.code, cmd.reason)
			return true
		}
		return false
	}
	for {
		select {
		case cmd := <-c.cmds:
			if do(cmd) {
				return
			}
		case rseq := <-c.pracks:
			if next := rp.pracked(rseq); next != nil && do(*next) {
				return
			}
		case <-rp.timerC():
			if !rp.retransmit(tx, log) {
				log.Info("call refused", zap.Int("code", 504), zap.String("reason", "no PRACK of the reliable provisional"))
				a.respond(req, tx, 504, "Server Time-out")
				end(504, "no PRACK")
				return
			}
		case <-canceled:
			log.Info("call cancelled", zap.String("by", "caller"))
			end(487, "cancelled by the caller")
			return
		case <-expiry:
			a.respond(req, tx, 480, "Temporarily Unavailable")
			end(408, "INVITE expired")
			return
		case <-tx.Done():
			end(487, "transaction ended")
			return
		case <-a.closing:
			return
		}
	}
}

// answerInvite sends the 2xx with sdp and retransmits it until the ACK (RFC 3261 §13.3.1.4).
func (c *call) answerInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction, sdp []byte, log *zap.Logger) {
	a := c.a
	res := a.newResponse(req, 200, "OK")
	res.AppendHeader(a.contactHeader())
	if len(a.cfg.Allow) > 0 {
		res.AppendHeader(a.allowHeader())
	}
	if len(a.cfg.Supported) > 0 {
		res.AppendHeader(sipmsg.NewHeader("Supported", strings.Join(a.cfg.Supported, ", ")))
	}
	if sdp != nil {
		res.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody(sdp)
	c.mu.Lock()
	c.answer = res
	c.phase = phaseConfirmed
	acked := c.acked
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		log.Info("answer not sent", zap.Error(err))
	}
	log.Info("call answered", zap.String("by", "phone"))
	t1 := sipmsg.T1
	interval := t1
	timer := time.NewTimer(interval)
	defer timer.Stop()
	giveUp := time.NewTimer(64 * t1)
	defer giveUp.Stop()
	defer c.markConnected() // after CallAnswered, or when it will never come
	for {
		select {
		case <-acked:
			a.emit(&CallAnswered{ID: c.id})
			return
		case <-timer.C:
			if err := tx.Respond(res); err != nil {
				log.Debug("answer retransmission not sent", zap.Error(err))
			}
			interval = min(2*interval, sipmsg.T2)
			timer.Reset(interval)
		case <-a.closing:
			return
		case <-giveUp.C:
			log.Info("call ended", zap.String("reason", "no ACK to the answer"))
			c.byeNow(log) // RFC 3261 §13.3.1.4: the session should end
			a.emit(&CallEnded{ID: c.id, Reason: "no ACK"})
			return
		}
	}
}

func (a *Agent) contactHeader() sipmsg.Header {
	c := a.contact()
	return &c
}

func party(display string, u sipmsg.Uri) Party {
	return Party{Display: display, URI: u.String(), User: u.User}
}

// isAnonymous reports a caller without identity (RFC 3323): From anonymous, or a Privacy
// asking for it.
func isAnonymous(req *sipmsg.Request) bool {
	f := req.From()
	if strings.EqualFold(f.Address.User, "anonymous") || strings.EqualFold(f.DisplayName, "anonymous") ||
		f.Address.User == "" || strings.HasSuffix(strings.ToLower(f.Address.Host), "anonymous.invalid") {
		return true
	}
	p := strings.ToLower(headerValue(req, "Privacy", ""))
	return strings.Contains(p, "id") || strings.Contains(p, "user")
}

// isAutoAnswer reports the headers PBXs page with (SPA-BEHAVIOUR §13.3): Call-Info with
// answer-after=0, Alert-Info "Ring Answer" or info=alert-autoanswer, ;intercom=true.
func isAutoAnswer(req *sipmsg.Request) bool {
	ci := strings.ToLower(headerValue(req, "Call-Info", ""))
	if strings.Contains(ci, "answer-after=0") {
		return true
	}
	ai := strings.ToLower(headerValue(req, "Alert-Info", ""))
	if strings.Contains(ai, "ring answer") || strings.Contains(ai, "alert-autoanswer") || strings.Contains(ai, "auto answer") {
		return true
	}
	v, _ := req.Recipient.UriParams.Get("intercom")
	return strings.EqualFold(v, "true")
}

// decide hands a command to the handler of an incoming INVITE.
func (a *Agent) command(id string, cmd callCmd) error {
	c, err := a.call(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	ok := !c.outgoing && c.phase == phaseEarly && c.cmds != nil
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s is not an incoming call being offered", ErrCallState, id)
	}
	select {
	case c.cmds <- cmd:
		return nil
	default:
		return fmt.Errorf("%w: %s has decisions pending", ErrCallState, id)
	}
}

// Ring answers an incoming call 180 Ringing.
func (a *Agent) Ring(id string) error { return a.command(id, callCmd{code: 180, reason: "Ringing"}) }

// Answer answers an incoming call 200 with the phone's SDP; [CallAnswered] follows the ACK.
func (a *Agent) Answer(id string, sdp []byte) error {
	return a.command(id, callCmd{code: 200, reason: "OK", sdp: sdp})
}

// Reject refuses an incoming call with code (486 Busy Here, 480, 433, 603, …).
func (a *Agent) Reject(id string, code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("%w: %d is not a refusal", ErrCallState, code)
	}
	return a.command(id, callCmd{code: code, reason: reason})
}

// Redirect forwards an incoming call (SPA-BEHAVIOUR §13.7): 302 Moved Temporarily with the
// target as Contact and a Diversion naming this extension with reason ("unconditional",
// "user-busy", "no-answer").
func (a *Agent) Redirect(id, target, reason string) error {
	u, err := a.TargetURI(target)
	if err != nil {
		return err
	}
	us := a.contact().Address
	div := fmt.Sprintf("<%s>;reason=%s", us.String(), reason)
	if a.cfg.DisplayName != "" {
		div = strconv.Quote(a.cfg.DisplayName) + " " + div
	}
	return a.command(id, callCmd{code: 302, reason: "Moved Temporarily", contact: u.String(), diverted: div})
}

// matchReplaces finds the call a Replaces header names (RFC 3891 §3): Call-ID, to-tag ours,
// from-tag the far end's. It returns the call's ID, or the refusal: 481 for no such dialog
// (or an early one the agent did not initiate), 603 for one that has ended, 486 for a
// confirmed one when early-only is asked.
func (a *Agent) matchReplaces(h string) (string, int, string) {
	parts := strings.Split(h, ";")
	cid := strings.TrimSpace(parts[0])
	var toTag, fromTag string
	earlyOnly := false
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "to-tag":
			toTag = v
		case "from-tag":
			fromTag = v
		case "early-only":
			earlyOnly = true
		}
	}
	c, _ := a.call(cid)
	if c == nil || toTag == "" || fromTag == "" {
		return "", 481, "Call/Transaction Does Not Exist"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.localTag != toTag || c.remoteTag != fromTag:
		return "", 481, "Call/Transaction Does Not Exist"
	case c.phase == phaseEnded:
		return "", 603, "Declined"
	case c.phase == phaseEarly && !c.outgoing:
		return "", 481, "Call/Transaction Does Not Exist"
	case c.phase == phaseConfirmed && earlyOnly:
		return "", 486, "Busy Here"
	}
	return c.id, 0, ""
}

// onAck takes the ACK of our 2xx.
func (a *Agent) onAck(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := a.matchDialog(req)
	if c == nil {
		return
	}
	c.mu.Lock()
	// An ACK of an earlier 2xx (the far end ACKs each retransmission of it, and an ACK may
	// come after the re-INVITE that followed it) does not acknowledge the 2xx waiting now:
	// the ACK's CSeq is its INVITE's (RFC 3261 §13.2.2.4).
	if c.acked != nil && req.CSeq().SeqNo == c.ackCSeq {
		select {
		case <-c.acked:
		default:
			close(c.acked)
		}
	}
	c.mu.Unlock()
}

// onBye ends a call from the far end (RFC 3261 §15.1.2).
func (a *Agent) onBye(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := a.matchDialog(req)
	if c == nil {
		a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	// The 200 goes after CallEnded is reported: a caller that places its next call as soon as
	// it has the 200 (SIPp's -l 1, a PBX's next page) must find the phone with this call gone,
	// as a real phone is, not ringing the next one as a call waiting because the new INVITE's
	// goroutine reported first. The statistics are the call's as the BYE found it.
	stats := c.statsHeader()
	defer a.respond(req, tx, 200, "OK", stats)
	if !c.afterConnected() { // the call is reported connected first (call_order.go)
		return
	}
	c.mu.Lock()
	was := c.phase
	c.phase = phaseEnded
	c.mu.Unlock()
	a.dropCall(c)
	if was == phaseEnded {
		return
	}
	a.log.Info("call ended", zap.String("call_id", c.id), zap.String("by", "remote"))
	a.emit(&CallEnded{ID: c.id, Remote: true, Reason: "remote hung up"})
}

// onCancel answers a CANCEL that matches no INVITE (sipgo handles the ones that do).
func (a *Agent) onCancel(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

// onReinvite handles a re-INVITE: the phone answers its offer (hold, resume, …).
func (c *call) onReinvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	a := c.a
	// The call is reported connected first, and the ACK of the INVITE that set it up is
	// taken before this re-INVITE makes its own (call_order.go).
	if !c.afterConnected() {
		a.respond(req, tx, 503, "Service Unavailable")
		return
	}
	c.mu.Lock()
	if c.phase != phaseConfirmed || c.reinviting {
		c.mu.Unlock()
		a.respond(req, tx, 491, "Request Pending")
		return
	}
	if req.CSeq().SeqNo <= c.remoteCSeq {
		c.mu.Unlock()
		a.respond(req, tx, 500, "Server Internal Error")
		return
	}
	c.remoteCSeq = req.CSeq().SeqNo
	if ct := req.Contact(); ct != nil {
		c.target = ct.Address // a target refresh (RFC 3261 §12.2.2)
	}
	c.acked, c.ackCSeq = make(chan struct{}), req.CSeq().SeqNo
	c.mu.Unlock()
	a.respond(req, tx, 100, "Trying")
	ev := &CallReinvite{ID: c.id, SDP: sdpBody(req), rep: reinviteReply{ch: make(chan reinviteAnswer, 1)}}
	a.emit(ev)
	t := time.NewTimer(ControlTimeout)
	defer t.Stop()
	var ans reinviteAnswer
	select {
	case ans = <-ev.rep.ch:
	case <-t.C:
		ans = reinviteAnswer{code: 500, reason: "Server Internal Error"}
	case <-tx.Done():
		return
	case <-a.closing:
		return
	}
	if ans.code != 200 {
		a.respond(req, tx, ans.code, ans.reason)
		return
	}
	c.answerInvite(req, tx, ans.sdp, a.log.With(zap.String("call_id", c.id)))
}

// Reinvite sends a re-INVITE with sdp (hold, resume; SPA-BEHAVIOUR §13.4), bounded by limit
// (ReINVITE_Expires); the outcome comes as [CallReinvited].
func (a *Agent) Reinvite(id string, sdp []byte, limit time.Duration) error {
	c, err := a.call(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.phase != phaseConfirmed || c.reinviting {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s is not up, or a re-INVITE is pending", ErrCallState, id)
	}
	c.reinviting = true
	c.cseq++
	cseq := c.cseq
	c.mu.Unlock()
	if limit <= 0 {
		limit = a.cfg.timerF()
	}
	if !a.goCall(func() { c.reinvite(sdp, cseq, limit) }) {
		return ErrClosed
	}
	return nil
}

func (c *call) reinvite(sdp []byte, cseq uint32, limit time.Duration) {
	a := c.a
	// The re-INVITE is over before the phone hears its outcome: it may send the next at once.
	report := func(ev *CallReinvited) {
		c.mu.Lock()
		c.reinviting = false
		c.mu.Unlock()
		a.emit(ev)
	}
	reported := false
	defer func() {
		if !reported {
			c.mu.Lock()
			c.reinviting = false
			c.mu.Unlock()
		}
	}()
	req := c.inDialog(sipmsg.INVITE, cseq)
	a.addCommonHeaders(req)
	req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdp)
	dest, err := c.dest()
	if err != nil {
		reported = true
		report(&CallReinvited{ID: c.id, Code: 503, Reason: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := a.prepare(ctx, req, dest); err != nil {
		reported = true
		report(&CallReinvited{ID: c.id, Code: 503, Reason: err.Error()})
		return
	}
	tx, err := a.client().TransactionRequest(ctx, req, noBuild)
	if err != nil {
		reported = true
		report(&CallReinvited{ID: c.id, Code: 503, Reason: err.Error()})
		return
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			if res.IsSuccess() {
				c.ackRetransmissions(tx)
				c.mu.Lock()
				prev := c.invite
				c.invite = req
				if ct := res.Contact(); ct != nil {
					c.target = ct.Address
				}
				c.mu.Unlock()
				c.sendAck(res)
				c.mu.Lock()
				c.invite = prev
				c.mu.Unlock()
				reported = true
				report(&CallReinvited{ID: c.id, Code: res.StatusCode, Reason: res.Reason, SDP: sdpBody(res)})
				return
			}
			tx.Terminate()
			reported = true
			report(&CallReinvited{ID: c.id, Code: res.StatusCode, Reason: res.Reason})
			return
		case <-tx.Done():
			reported = true
			report(&CallReinvited{ID: c.id, Code: 408, Reason: "no answer"})
			return
		case <-ctx.Done():
			tx.Terminate()
			reported = true
			report(&CallReinvited{ID: c.id, Code: 408, Reason: "no answer within ReINVITE_Expires"})
			return
		case <-a.closing:
			tx.Terminate()
			return
		}
	}
}

// SendDTMF sends a digit in a SIP INFO (application/dtmf-relay, or the extension's
// DTMF_Relay_MIME_Type) in the call's dialog.
func (a *Agent) SendDTMF(id string, digit rune, dur time.Duration) error {
	c, err := a.call(id)
	if err != nil {
		return err
	}
	if !strings.ContainsRune("0123456789*#ABCDabcd", digit) {
		return fmt.Errorf("%w: %q is not a DTMF digit", ErrCallState, digit)
	}
	c.mu.Lock()
	if c.phase != phaseConfirmed {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s is not up", ErrCallState, id)
	}
	c.cseq++
	cseq := c.cseq
	c.mu.Unlock()
	if !a.goCall(func() {
		req := c.inDialog(sipmsg.INFO, cseq)
		mime := a.cfg.DTMFMime
		if mime == "" {
			mime = "application/dtmf-relay"
		}
		req.AppendHeader(sipmsg.NewHeader("Content-Type", mime))
		req.SetBody([]byte(fmt.Sprintf("Signal=%c\r\nDuration=%d\r\n", digit, dur/time.Millisecond)))
		if _, err := c.send(req); err != nil {
			a.log.Info("dtmf info not answered", zap.String("call_id", c.id), zap.Error(err))
		}
	}) {
		return ErrClosed
	}
	return nil
}

// onInfo takes DTMF in SIP INFO (application/dtmf-relay or application/dtmf).
func (a *Agent) onInfo(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := a.matchDialog(req)
	if c == nil {
		a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(h.Value())
	}
	digit, dur, ok := parseDTMFRelay(ct, req.Body())
	if len(req.Body()) > 0 && !ok {
		a.respond(req, tx, 415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	a.respond(req, tx, 200, "OK")
	if ok && c.afterConnected() {
		a.emit(&DTMF{ID: c.id, Digit: digit, Duration: dur})
	}
}

// parseDTMFRelay reads "Signal=5\r\nDuration=160" (application/dtmf-relay) or "5"
// (application/dtmf).
func parseDTMFRelay(ct string, body []byte) (rune, time.Duration, bool) {
	if strings.HasPrefix(ct, "application/dtmf") && !strings.HasPrefix(ct, "application/dtmf-relay") {
		s := strings.TrimSpace(string(body))
		if len(s) == 1 && strings.ContainsRune("0123456789*#ABCD", rune(s[0])) {
			return rune(s[0]), 0, true
		}
		return 0, 0, false
	}
	var digit rune
	var dur time.Duration
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "signal":
			if len(v) == 1 && strings.ContainsRune("0123456789*#ABCDabcd", rune(v[0])) {
				digit = rune(strings.ToUpper(v)[0])
			} else if n, err := strconv.Atoi(v); err == nil && n >= 10 && n <= 11 {
				digit = rune("*#"[n-10])
			}
		case "duration":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				dur = time.Duration(n) * time.Millisecond
			}
		}
	}
	return digit, dur, digit != 0
}
