package sip

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Reliable provisional responses (RFC 3262, SIP_100REL_Enable_n_, SPA-BEHAVIOUR §13.2).
//
// Decision: the parameter's default is No and its behaviour beyond the name is not in the
// sources [unc]. With it Yes the agent does what RFC 3262 asks of a UA that supports 100rel:
// its INVITEs carry "Supported: 100rel" (the phone adds it to Config.Supported), it PRACKs
// every reliable 1xx of them, and it sends its own 180 reliably to a caller that supports
// or requires 100rel. With it No, 100rel is an extension the agent does not have: an INVITE
// that requires it gets 420 Bad Extension with "Unsupported: 100rel" (RFC 3261 §8.2.2.3),
// and a reliable 1xx (which a UAS may not send to a UAC that did not offer 100rel) is
// taken as an ordinary provisional. A PBX that needs PRACK turns the parameter on, as it
// would on the device.

// opt100rel is the option tag of RFC 3262.
const opt100rel = "100rel"

// hasOption reports whether one of the headers name (or its compact form) lists opt.
func hasOption(m headered, name, compact, opt string) bool {
	for _, h := range m.Headers() {
		if n := h.Name(); !strings.EqualFold(n, name) && (compact == "" || n != compact) {
			continue
		}
		for _, o := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(o), opt) {
				return true
			}
		}
	}
	return false
}

// reliableRSeq returns the RSeq of a reliable provisional response (Require: 100rel and an
// RSeq, RFC 3262 §3), or false.
func reliableRSeq(res *sipmsg.Response) (uint32, bool) {
	if res.StatusCode <= 100 || res.StatusCode >= 200 || !hasOption(res, "Require", "", opt100rel) {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(headerValue(res, "RSeq", "")), 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// onReliable takes a reliable provisional answer to our INVITE (RFC 3262 §4): the first of
// an early dialog, or the one whose RSeq follows the last, is PRACKed and processed; a
// retransmission, or one out of order, is neither. It reports whether to process res.
func (c *call) onReliable(res *sipmsg.Response, rseq uint32, log *zap.Logger) bool {
	tag, _ := res.To().Params.Get("tag")
	c.mu.Lock()
	if c.rseqs == nil {
		c.rseqs = map[string]uint32{}
	}
	last, seen := c.rseqs[tag]
	if seen && rseq != last+1 {
		c.mu.Unlock()
		return false
	}
	c.rseqs[tag] = rseq
	// The PRACK goes in the early dialog the 1xx created (RFC 3261 §12.1.2).
	c.adoptDialog(res)
	c.cseq++
	cseq := c.cseq
	inviteCSeq := c.invite.CSeq().SeqNo
	c.mu.Unlock()
	req := c.inDialog(sipmsg.PRACK, cseq)
	req.AppendHeader(sipmsg.NewHeader("RAck", strconv.FormatUint(uint64(rseq), 10)+" "+
		strconv.FormatUint(uint64(inviteCSeq), 10)+" INVITE"))
	a := c.a
	a.goCall(func() {
		pr, err := c.send(req)
		switch {
		case err != nil:
			log.Info("prack not answered", zap.Uint32("rseq", rseq), zap.Error(err))
		case pr.StatusCode >= 300:
			log.Info("prack refused", zap.Uint32("rseq", rseq), zap.Int("code", pr.StatusCode))
		}
	})
	return true
}

// reliableProvisional is the state of the reliable 1xx an incoming INVITE's handler sends
// (RFC 3262 §3): the one waiting for its PRACK, retransmitted meanwhile, and the phone's
// decision that waits for that PRACK (the next 1xx, or the 2xx).
type reliableProvisional struct {
	rseq     uint32 // RSeq of the last reliable 1xx sent
	out      *sipmsg.Response
	interval time.Duration
	timer    *time.Timer
	giveUp   time.Time
	queued   *callCmd
}

// newRSeq is the first RSeq of a dialog: random, between 1 and 2^31-1 (RFC 3262 §3), kept
// well below 2^31 so that it never wraps.
func newRSeq() uint32 { return 1 + rand.Uint32N(1<<30) }

// timerC is the retransmission timer's channel, nil when nothing waits for a PRACK.
func (rp *reliableProvisional) timerC() <-chan time.Time {
	if rp.out == nil {
		return nil
	}
	return rp.timer.C
}

// stop ends the retransmissions.
func (rp *reliableProvisional) stop() {
	if rp.timer != nil {
		rp.timer.Stop()
	}
	rp.out = nil
}

// sendReliable sends cmd's 1xx reliably: Require: 100rel and the next RSeq; it is
// retransmitted from T1, doubling, until its PRACK comes (RFC 3262 §3). The caller queues
// what the phone decides meanwhile.
func (c *call) sendReliable(req *sipmsg.Request, tx sipmsg.ServerTransaction, rp *reliableProvisional, cmd callCmd, log *zap.Logger) {
	a := c.a
	if rp.rseq == 0 {
		rp.rseq = newRSeq()
	} else {
		rp.rseq++
	}
	res := a.newResponse(req, cmd.code, cmd.reason)
	res.AppendHeader(a.contactHeader())
	res.AppendHeader(sipmsg.NewHeader("Require", opt100rel))
	res.AppendHeader(sipmsg.NewHeader("RSeq", strconv.FormatUint(uint64(rp.rseq), 10)))
	c.mu.Lock()
	c.relRSeq = rp.rseq
	c.mu.Unlock()
	if err := tx.Respond(res); err != nil {
		log.Debug("reliable provisional not sent", zap.Error(err))
	}
	rp.out, rp.interval = res, sipmsg.T1
	rp.giveUp = time.Now().Add(64 * sipmsg.T1)
	if rp.timer == nil {
		rp.timer = time.NewTimer(rp.interval)
	} else {
		rp.timer.Reset(rp.interval)
	}
}

// retransmit resends the reliable 1xx waiting for its PRACK; it reports false when 64×T1
// have passed without one (the INVITE is then refused, RFC 3262 §3).
func (rp *reliableProvisional) retransmit(tx sipmsg.ServerTransaction, log *zap.Logger) bool {
	if !time.Now().Before(rp.giveUp) {
		rp.stop()
		return false
	}
	if err := tx.Respond(rp.out); err != nil {
		log.Debug("reliable provisional retransmission not sent", zap.Error(err))
	}
	rp.interval *= 2
	rp.timer.Reset(rp.interval)
	return true
}

// pracked takes the PRACK of rseq: the retransmissions end, and the decision that waited
// for it, if any, is returned to be carried out.
func (rp *reliableProvisional) pracked(rseq uint32) *callCmd {
	if rp.out == nil || rseq != rp.rseq {
		return nil
	}
	rp.stop()
	q := rp.queued
	rp.queued = nil
	return q
}

// onPrack takes a PRACK (RFC 3262 §3): 200 when it acknowledges the reliable 1xx the call's
// INVITE handler is retransmitting, 481 otherwise.
func (a *Agent) onPrack(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	c := a.matchDialog(req)
	if c == nil {
		a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	f := strings.Fields(headerValue(req, "RAck", ""))
	var rseq, cseq uint64
	var err error
	if len(f) == 3 {
		if rseq, err = strconv.ParseUint(f[0], 10, 32); err == nil {
			cseq, err = strconv.ParseUint(f[1], 10, 32)
		}
	}
	if len(f) != 3 || err != nil {
		a.respond(req, tx, 400, "Bad RAck")
		return
	}
	if !c.acceptRemoteCSeq(req) {
		a.respond(req, tx, 500, "Server Internal Error")
		return
	}
	c.mu.Lock()
	ok := !c.outgoing && c.relRSeq != 0 && uint32(rseq) == c.relRSeq && c.invite != nil &&
		uint32(cseq) == c.invite.CSeq().SeqNo && strings.EqualFold(f[2], "INVITE")
	pracks := c.pracks
	c.mu.Unlock()
	if !ok || pracks == nil {
		a.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	a.respond(req, tx, 200, "OK")
	select {
	case pracks <- uint32(rseq):
	default: // the handler has one to take already, or has ended
	}
}
