package phone

import (
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

// Transfer timing and the transfers that are not plainly attended (SPA-BEHAVIOUR §13.6).
//
// BYE after a transfer. Each role ends its stale leg after its own delay, in seconds on the
// phone's clock (DECISIONS 20):
//
//   - Referor_Bye_Delay_n_ (4): the transferor, once the REFER is accepted, hangs up the
//     transferee's call when its NOTIFY says the new call is up, or when the delay runs out
//     (calls.go onReferStatus);
//   - Referee_Bye_Delay_n_ (0): the transferee, once its new call is up, hangs up its call
//     with the transferor after the delay. 0 leaves that BYE to the transferor. Decision (the
//     sources give only the name and the default): were 0 "at once", the transferee's BYE
//     would always beat the transferor's, and the device's default Referor_Bye_Delay of 4 s
//     would never matter after a successful transfer; the referee's BYE is the backstop for a
//     transferor that stays on the line;
//   - Refer_Target_Bye_Delay_n_ (0): the target of an attended transfer, once the INVITE with
//     Replaces arrived, hangs up the replaced call after the delay. Here 0 is at once: RFC 3891
//     §3 makes the target end the replaced dialog, so there is no "never" to leave it to.
//
// Semi-attended transfer: the user completes the transfer while the target still rings
// (SPA-BEHAVIOUR §13.6, [doc S20 p19]). The phone CANCELs its ringing call to the target and
// REFERs the transferee to the target blind. Decision: a REFER whose Replaces names the early
// dialog would fail at the target, which must answer 481 to a Replaces of an early dialog it
// did not initiate (RFC 3891 §3), and the target's ringing dialog was initiated by the
// transferor. The target rings again, with the transferee's call.
//
// Blind_Attn-Xfer_Enable_n_ (No): its definition is not in the sources ([unc]); the name says
// "complete the attended transfer blind", which is what Yes does: the consultation call is
// hung up and the held party is REFERred to the target without Replaces, so the target rings
// again with the transferee's call (for servers or targets that do not take Replaces).

// semiAttended completes the transfer of c to other's far end blind: REFER of c's far end to
// the target (other's Request-URI; its Contact when other is up and Refer-To_Target_Contact
// is Yes), then other ends (CANCEL while it rings, BYE once up). ringing says why: the target
// has not answered yet (semi-attended), or Blind_Attn-Xfer_Enable is Yes.
func (st *state) semiAttended(c, other *pcall) error {
	ringing := other.state == CallCalling || other.state == CallProceeding
	target, why := other.peer.URI, "semi-attended"
	if !ringing {
		why = config.BlindAttnXferEnable + " is Yes"
		if st.snap.Bool(config.ExtName(config.ReferToTargetContact, c.ext)) {
			if lo, err := st.lineAgent(other.ext); err == nil {
				if d, err := lo.agent.Dialog(other.sipID); err == nil && d.RemoteTarget != "" {
					target = d.RemoteTarget
				}
			}
		}
	}
	if err := st.transferTo(c, target); err != nil {
		return err
	}
	st.callLog(c).Info("transfer completed blind", zap.String("reason", why), zap.String("consultation", other.id),
		zap.String("to", target))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": c.state, "transfer": "blind", "reason": why, "consultation": other.id}))
	st.hangup(other)
	return nil
}

// refereeBye starts Referee_Bye_Delay for r, the transferee's call with its transferor, once
// the call the transfer asked for is up (see the doc above; 0: the transferor hangs up).
func (st *state) refereeBye(r *pcall) {
	if st.calls.byID[r.id] != r {
		return
	}
	d := time.Duration(st.snap.Int(config.ExtName(config.RefereeByeDelay, r.ext))) * time.Second
	if d <= 0 {
		return
	}
	r.byeAt, r.byeWhy = st.p.clock.Now().Add(d), config.RefereeByeDelay
	st.callLog(r).Info("transfer bye delayed", zap.String("reason", config.RefereeByeDelay), zap.Duration("delay", d))
}

// replacedBye ends old, the call an INVITE with Replaces takes the place of, after
// Refer_Target_Bye_Delay: at once for 0, or when the extension has no other appearance for
// the new call; otherwise old stays in its appearance until the delay runs out.
func (st *state) replacedBye(l *line, old *pcall) {
	d := time.Duration(st.snap.Int(config.ExtName(config.ReferTargetByeDelay, l.n))) * time.Second
	if d > 0 && st.freeAppearance(l.n) != 0 {
		old.byeAt, old.byeWhy = st.p.clock.Now().Add(d), config.ReferTargetByeDelay
		st.callLog(old).Info("transfer bye delayed", zap.String("reason", config.ReferTargetByeDelay), zap.Duration("delay", d))
		return
	}
	l.agent.Hangup(old.sipID)
	st.endCall(old, "replaced", 0)
}
