package metrics

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spa900/spa900/phone"
)

// The SIP and media series: registrations and calls by state (from the status snapshots),
// registration attempts, calls started, SIP messages by kind, RTP packets and loss (from
// [phone.Counters]; RTP adds the calls in progress read from their sessions at scrape time).

// Registration states, the label values of spa900_registrations: Registration_State of
// every extension that registers (SPA-BEHAVIOUR §9 Ext n Status).
var regStates = [...]string{"registered", "failed", "unregistered"}

// Call states, the label values of spa900_calls (SPA-BEHAVIOUR §13.1), and "other" for a
// state a later call model may add.
var callStates = [...]string{"calling", "proceeding", "ringing", "connected", "held", "other"}

type voiceDescs struct {
	registrations, regAttempts           *prometheus.Desc
	calls, callsTotal                    *prometheus.Desc
	sipMessages                          *prometheus.Desc
	rtpPackets, rtpLost, rtpSessionsDone *prometheus.Desc
}

func newVoiceDescs() voiceDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return voiceDescs{
		registrations:   d("registrations", "Extensions that register, by registration state (registered, failed, unregistered).", "state"),
		regAttempts:     d("registration_attempts_total", "Registration attempts that ended, by result (registered, failed).", "result"),
		calls:           d("calls", "Calls in progress, by state (calling, proceeding, ringing, connected, held).", "state"),
		callsTotal:      d("calls_total", "Calls placed (outbound) and offered (inbound).", "direction"),
		sipMessages:     d("sip_messages_total", "SIP messages sent and received, by kind: request method, response class (1xx..6xx), keepalive, other.", "direction", "kind"),
		rtpPackets:      d("rtp_packets_total", "RTP packets of calls, sent and received (calls in progress included).", "direction"),
		rtpLost:         d("rtp_packets_lost_total", "RTP packets lost in the received streams of calls (RFC 3550 cumulative number lost; calls in progress included)."),
		rtpSessionsDone: d("rtp_sessions_ended_total", "RTP sessions of calls that ended."),
	}
}

func (v voiceDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{v.registrations, v.regAttempts, v.calls, v.callsTotal, v.sipMessages, v.rtpPackets, v.rtpLost, v.rtpSessionsDone}
}

// monotonic keeps what a counter series last reported, so that a reading a moment short (a
// call's session between the calls in progress and the totals, see phone's sessionEnded)
// never makes a Prometheus counter go down, which a scraper takes for a restart.
type monotonic struct {
	mu   sync.Mutex
	last map[string]float64
}

func (m *monotonic) value(key string, v float64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[string]float64{}
	}
	if v < m.last[key] {
		return m.last[key]
	}
	m.last[key] = v
	return v
}

// collectVoiceCounters emits the counters of registrations, calls, SIP messages and the RTP
// of the calls that ended; it returns the RTP totals so far, to which collectVoiceState adds
// the calls in progress.
func (c *Collector) collectVoiceCounters(ch chan<- prometheus.Metric) (phone.RTPTotals, uint64) {
	d := c.v
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	var regOK, regFailed, sessions uint64
	var rtp phone.RTPTotals
	calls := map[string]uint64{}
	sipm := keyed{}
	var order [][2]string
	for _, pc := range c.counters {
		ok, failed := pc.Registrations()
		regOK += ok
		regFailed += failed
		pc.EachCall(func(dir string, n uint64) { calls[dir] += n })
		pc.SIPMessages(func(dir, kind string, n uint64) {
			k := [2]string{dir, kind}
			if _, seen := sipm[k]; !seen {
				order = append(order, k)
			}
			sipm[k] += n
		})
		t, n := pc.RTPEnded()
		rtp.Sent += t.Sent
		rtp.Received += t.Received
		rtp.Lost += t.Lost
		sessions += n
	}
	counter(d.regAttempts, regOK, "registered")
	counter(d.regAttempts, regFailed, "failed")
	for _, dir := range []string{"inbound", "outbound"} {
		counter(d.callsTotal, calls[dir], dir)
	}
	for _, k := range order {
		counter(d.sipMessages, sipm[k], k[0], k[1])
	}
	counter(d.rtpSessionsDone, sessions)
	return rtp, sessions
}

// voiceState counts, over the status snapshots of running phones, registrations and calls
// by state and the RTP of the calls in progress.
type voiceState struct {
	regs  map[string]int
	calls map[string]int
	rtp   phone.RTPTotals
}

func newVoiceState() *voiceState {
	v := &voiceState{regs: map[string]int{}, calls: map[string]int{}}
	for _, s := range regStates {
		v.regs[s] = 0
	}
	for _, s := range callStates {
		v.calls[s] = 0
	}
	return v
}

func (v *voiceState) add(st *phone.Status) {
	for _, e := range st.Extensions {
		if !e.Enabled || !e.Registering {
			continue
		}
		switch e.Registration {
		case "Registered":
			v.regs["registered"]++
		case "Failed":
			v.regs["failed"]++
		default:
			v.regs["unregistered"]++
		}
	}
	for _, call := range st.Calls {
		s := strings.ToLower(call.State)
		if _, ok := v.calls[s]; !ok {
			s = "other"
		}
		v.calls[s]++
	}
	r := st.RTPInProgress()
	v.rtp.Sent += r.Sent
	v.rtp.Received += r.Received
	v.rtp.Lost += r.Lost
}

func (c *Collector) emitVoiceState(ch chan<- prometheus.Metric, v *voiceState, ended phone.RTPTotals) {
	d := c.v
	for _, s := range regStates {
		ch <- prometheus.MustNewConstMetric(d.registrations, prometheus.GaugeValue, float64(v.regs[s]), s)
	}
	for _, s := range callStates {
		ch <- prometheus.MustNewConstMetric(d.calls, prometheus.GaugeValue, float64(v.calls[s]), s)
	}
	sent := c.mono.value("rtp_sent", float64(ended.Sent+v.rtp.Sent))
	recv := c.mono.value("rtp_recv", float64(ended.Received+v.rtp.Received))
	lost := c.mono.value("rtp_lost", float64(ended.Lost+v.rtp.Lost))
	ch <- prometheus.MustNewConstMetric(d.rtpPackets, prometheus.CounterValue, sent, "sent")
	ch <- prometheus.MustNewConstMetric(d.rtpPackets, prometheus.CounterValue, recv, "received")
	ch <- prometheus.MustNewConstMetric(d.rtpLost, prometheus.CounterValue, lost)
}
