package phone

import (
	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// sipTimers reads the SIP timers of a configuration (SPA-BEHAVIOUR §8.2 SIP Timer Values).
func sipTimers(sn *config.Snapshot) sip.Timers {
	return sip.Timers{
		T1: seconds(sn.Get(config.SIPT1)), T2: seconds(sn.Get(config.SIPT2)), T4: seconds(sn.Get(config.SIPT4)),
		H: seconds(sn.Get(config.SIPTimerH)), D: seconds(sn.Get(config.SIPTimerD)), J: seconds(sn.Get(config.SIPTimerJ)),
	}
}

// voiceConfigChanged says which changed parameters cannot apply to this process: sipgo's
// timers are set once, at start.
func (st *state) voiceConfigChanged(names []string) {
	st.mwiConfigChanged(names)
	for _, n := range names {
		switch n {
		case config.SIPT1, config.SIPT2, config.SIPT4, config.SIPTimerH, config.SIPTimerD, config.SIPTimerJ:
			st.p.log.Warn("sip timer change not honoured", zap.String("param", n),
				zap.String("reason", "sipgo keeps it per process: it applies when the process starts again"))
		}
	}
}

// SIPTimers returns the SIP timers the unit's configuration asks for, as its flash held them
// when the unit was made.
func (u *Unit) SIPTimers() sip.Timers { return u.timers }

// ProcessSIPTimers chooses the one set of SIP timers a process can have (sipgo keeps T1, T2,
// T4 and the server timers process-wide): the first unit's. It logs, once per unit, each
// unit whose configuration asks for others, which it cannot honour. Timer B and F are
// honoured per extension regardless (sip.Config). Later changes of these parameters take
// effect at the next start of the process; the phone says so when they change.
func ProcessSIPTimers(units []*Unit, log *zap.Logger) sip.Timers {
	if len(units) == 0 {
		return sipTimers(config.NewSnapshot(config.CatalogFor(config.Models()[0])))
	}
	t := units[0].timers
	for _, u := range units[1:] {
		if u.timers != t {
			log.Warn("sip timers not honoured", zap.String("phone", u.Status().MAC),
				zap.String("reason", "sipgo keeps SIP_T1/T2/T4 and Timer H/D/J per process; the fleet uses the first phone's"),
				zap.Duration("t1", t.T1), zap.Duration("t2", t.T2), zap.Duration("t4", t.T4))
		}
	}
	return t
}
