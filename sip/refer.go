package sip

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Transfer by REFER (RFC 3515, SPA-BEHAVIOUR §13.6), blind and attended (Replaces, RFC 3891,
// RFC 5589), in every role: the phone REFERs the far end of a call to a target
// ([Agent.Refer], [Agent.ReferReplaces]) and hears how that goes in NOTIFYs of the implicit
// refer subscription ([ReferStatus]); or the far end REFERs the phone ([Refer]), which calls
// the target (with the Replaces it was given) and reports with [Agent.ReferNotify]; or, as
// the target, an INVITE with Replaces takes the place of one of its calls
// ([IncomingCall].Replaces).

// Refer is a REFER in a call's dialog: the far end asks the phone to call Target (RFC 3515).
// The phone takes it with [Refer.Accept] (202) or refuses with [Refer.Reject], and reports the
// new call's progress with [Agent.ReferNotify].
type Refer struct {
	ID     string
	Target string
	// Replaces is the Replaces header the new call must carry (RFC 3891), from the Refer-To
	// of an attended transfer; "" for a blind one.
	Replaces   string
	ReferredBy string
	reply      replier
}

// Accept answers 202 Accepted.
func (r *Refer) Accept() { r.reply.respond(202, "Accepted") }

// Reject answers with code.
func (r *Refer) Reject(code int, reason string) { r.reply.respond(code, reason) }

// ReferStatus is a NOTIFY of the transfer the phone asked for with [Agent.Refer]: the sipfrag
// status line of the transferee's new call (RFC 3515 §2.4.5). Done says the subscription is
// over.
type ReferStatus struct {
	ID     string
	Code   int
	Reason string
	Done   bool
}

func (*Refer) sipEvent()       {}
func (*ReferStatus) sipEvent() {}

// Refer asks the far end of call id to call target (blind transfer, RFC 3515): REFER with
// Refer-To and Referred-By in the dialog. The 202 (or the refusal) comes as a [ReferStatus]
// with the REFER's own code, the transferee's progress as further ReferStatus events.
func (a *Agent) Refer(id, target string) error {
	u, err := a.TargetURI(target)
	if err != nil {
		return err
	}
	return a.refer(id, "<"+u.String()+">")
}

// Dialog identifies a call's dialog from this agent's side, for the Replaces of an attended
// transfer (RFC 3891): its Call-ID and tags, the far end's address of record and its
// Contact.
type Dialog struct {
	CallID, LocalTag, RemoteTag string
	Remote, RemoteTarget        string
}

// Dialog returns the dialog of call id once it is up.
func (a *Agent) Dialog(id string) (Dialog, error) {
	c, err := a.call(id)
	if err != nil {
		return Dialog{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseConfirmed {
		return Dialog{}, fmt.Errorf("%w: %s is not up", ErrCallState, id)
	}
	return Dialog{CallID: c.id, LocalTag: c.localTag, RemoteTag: c.remoteTag,
		Remote: c.remote.String(), RemoteTarget: c.target.String()}, nil
}

// ReferReplaces completes an attended transfer (RFC 5589 §7, SPA-BEHAVIOUR §13.6): the far
// end of call id is REFERred to the far end of d, with a Replaces of d in Refer-To so that
// the new call takes d's place. The target is d's address of record, or its Contact when
// toContact (Refer-To_Target_Contact_n_). Progress comes as for [Agent.Refer].
func (a *Agent) ReferReplaces(id string, d Dialog, toContact bool) error {
	target := d.Remote
	if toContact && d.RemoteTarget != "" {
		target = d.RemoteTarget
	}
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(target, &u); err != nil {
		return fmt.Errorf("transfer target %q: %w", target, err)
	}
	u.Headers = nil
	// Replaces as the target sees the dialog: to-tag its own (our remote tag), from-tag ours.
	rep := d.CallID + ";to-tag=" + d.RemoteTag + ";from-tag=" + d.LocalTag
	return a.refer(id, "<"+u.String()+"?Replaces="+escapeHeader(rep)+">")
}

// escapeHeader escapes a header value embedded in a SIP URI (RFC 3261 §25.1: hvalue is
// unreserved, "[]/?:+$" and escaped octets).
func escapeHeader(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		ch := v[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("-_.!~*'()[]/?:+$", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// refer sends REFER with referTo (a name-addr) in call id's dialog.
func (a *Agent) refer(id, referTo string) error {
	c, err := a.call(id)
	if err != nil {
		return err
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
		req := c.inDialog(sipmsg.REFER, cseq)
		req.AppendHeader(sipmsg.NewHeader("Refer-To", referTo))
		by := a.aor()
		req.AppendHeader(sipmsg.NewHeader("Referred-By", "<"+by.String()+">"))
		res, err := c.send(req)
		switch {
		case err != nil:
			a.emit(&ReferStatus{ID: c.id, Code: 408, Reason: err.Error(), Done: true})
		case res.StatusCode >= 300:
			a.emit(&ReferStatus{ID: c.id, Code: res.StatusCode, Reason: res.Reason, Done: true})
		default:
			a.log.Info("transfer accepted", zap.String("call_id", c.id), zap.Int("code", res.StatusCode))
			a.emit(&ReferStatus{ID: c.id, Code: res.StatusCode, Reason: res.Reason})
		}
	}) {
		return ErrClosed
	}
	return nil
}

// onRefer takes a REFER in a dialog: the phone decides.
func (a *Agent) onRefer(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := a.matchDialog(req)
	if c == nil {
		if tag, _ := req.To().Params.Get("tag"); tag == "" {
			a.respond(req, tx, 405, "Method Not Allowed", a.allowHeader()) // no REFER outside a call
			return
		}
		a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	rt := req.ReferTo()
	if rt == nil {
		a.respond(req, tx, 400, "Missing Refer-To")
		return
	}
	if !c.acceptRemoteCSeq(req) {
		a.respond(req, tx, 500, "Server Internal Error")
		return
	}
	if !c.afterConnected() { // the call is reported connected first (call_order.go)
		a.respond(req, tx, 503, "Service Unavailable")
		return
	}
	target := rt.Address
	replaces := ""
	for _, kv := range target.Headers { // an attended transfer's Replaces (RFC 3891 §5)
		if strings.EqualFold(kv.K, "Replaces") {
			if v, err := url.PathUnescape(kv.V); err == nil {
				replaces = v
			}
		}
	}
	target.Headers = nil // other embedded headers are not taken
	ev := &Refer{ID: c.id, Target: target.String(), Replaces: replaces,
		ReferredBy: headerValue(req, "Referred-By", "b"), reply: newReplier()}
	answered := make(chan struct{})
	c.mu.Lock()
	c.referAnswered = answered
	c.mu.Unlock()
	defer close(answered)
	code, reason := a.decide(&ev.reply, func() { a.emit(ev) }, tx)
	a.respond(req, tx, code, reason)
}

// acceptRemoteCSeq checks and records the CSeq of a request in the dialog (RFC 3261
// §12.2.2: lower than the last is refused).
func (c *call) acceptRemoteCSeq(req *sipmsg.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := req.CSeq().SeqNo
	if c.remoteCSeq != 0 && n < c.remoteCSeq {
		return false
	}
	c.remoteCSeq = n
	return true
}

// ReferNotify reports the progress of the call a REFER asked for, in the REFER's dialog
// (RFC 3515 §2.4.5): a NOTIFY with Event: refer and a message/sipfrag status line; a final
// code ends the subscription.
func (a *Agent) ReferNotify(id string, code int, reason string) error {
	c, err := a.call(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cseq++
	cseq := c.cseq
	answered, prev := c.referAnswered, c.referSent
	sent := make(chan struct{})
	c.referSent = sent
	c.mu.Unlock()
	if !a.goCall(func() {
		defer close(sent)
		// The REFER's 202 goes first: a NOTIFY that overtakes it is legal (RFC 3515 §2.4.4)
		// but trips transferors that expect the answer first. And the NOTIFYs go one after
		// the other, in CSeq order (a far end refuses a lower CSeq, RFC 3261 §12.2.2); each
		// waits at most Timer F.
		if answered != nil {
			t := time.NewTimer(ControlTimeout)
			select {
			case <-answered:
			case <-t.C:
			case <-a.closing:
			}
			t.Stop()
		}
		if prev != nil {
			select {
			case <-prev:
			case <-a.closing:
			}
		}
		req := c.inDialog(sipmsg.NOTIFY, cseq)
		req.AppendHeader(sipmsg.NewHeader("Event", "refer"))
		state := "active;expires=60"
		if code >= 200 {
			state = "terminated;reason=noresource"
		}
		req.AppendHeader(sipmsg.NewHeader("Subscription-State", state))
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
		req.SetBody([]byte("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n"))
		if _, err := c.send(req); err != nil {
			a.log.Info("refer notify not answered", zap.String("call_id", c.id), zap.Error(err))
		}
	}) {
		close(sent)
		return ErrClosed
	}
	return nil
}

// onDialogNotify takes a NOTIFY in a dialog: the refer subscription's (RFC 3515).
func (a *Agent) onDialogNotify(c *call, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	pkg, _ := parseEvent(headerValue(req, "Event", "o"))
	if pkg != "refer" {
		a.respond(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", "refer"))
		return
	}
	a.respond(req, tx, 200, "OK")
	line := strings.TrimSpace(strings.SplitN(string(req.Body()), "\n", 2)[0])
	var code int
	var reason string
	if rest, ok := strings.CutPrefix(line, "SIP/2.0 "); ok {
		cs, r, _ := strings.Cut(rest, " ")
		code, _ = strconv.Atoi(cs)
		reason = strings.TrimSpace(r)
	}
	done := strings.HasPrefix(strings.ToLower(headerValue(req, "Subscription-State", "")), "terminated") || code >= 200
	a.emit(&ReferStatus{ID: c.id, Code: code, Reason: reason, Done: done})
}
