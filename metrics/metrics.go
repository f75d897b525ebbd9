// Package metrics exposes phones to Prometheus: one registry and one /metrics for a whole
// fleet (one phone is a fleet of one), with series whose number does not grow with the
// number of phones.
//
// Who may import it: cmd only. It imports phone and webui (whose counters it reads), never
// the other way round: the phone and its web server keep plain counters and know nothing of
// Prometheus.
//
// # Where the numbers come from
//
// Nothing here runs on a phone's hot path. At scrape time the collector reads:
//
//   - event counts from [phone.Counters] (atomics the phone loop adds to where it decides:
//     resyncs by trigger and result, fetch latencies, gate deferrals, upgrades, boots) and
//     from [webui.HTTPCounters] (requests by route class and status code). A fleet gives all
//     its units and web servers one of each, so reading them costs the same for one phone or
//     ten thousand;
//   - state from each unit's [phone.Status] snapshot (phones by model and state, provisioning
//     state, pending gated operations): a pointer load and a copy per phone.
//
// # Adding metrics (the pattern for registrations, calls, RTP)
//
//  1. Count events where the loop decides, in [phone.Counters]: an atomic field per label
//     value, the label values a fixed, documented array (like the failure reasons of
//     [phone.FailureReason]; never a URL, a number, a user or a MAC), a nil-safe unexported
//     method the loop calls, and an exported Each method that reports every value. RTP packet
//     and loss totals of ended calls belong there too, added once when a call ends.
//  2. Derive state (registrations by state, calls by state, live RTP streams) from the
//     [phone.Status] snapshot in [Collector.Collect], counting phones per bounded label value.
//  3. Describe the series in newDescs and emit them in Collect with
//     prometheus.MustNewConstMetric (or MustNewConstHistogram from a [phone.Histogram]).
//  4. Per-phone labels (mac) only in the opt-in info series ([Options.PerPhone]), never on
//     counters.
//
// # Concurrency
//
// A Collector is safe for concurrent scrapes.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/webui"
)

// namespace prefixes every series: spa900_….
const namespace = "spa900"

// Options say what a Collector reads.
type Options struct {
	// Units are the phones; their distinct Counters are summed.
	Units []*phone.Unit
	// HTTP are the web servers' request counts; nil leaves the HTTP series out.
	HTTP *webui.HTTPCounters
	// PerPhone adds spa900_phone_info{mac,model,software,ip}, one series per phone: for a
	// single phone or a small fleet (each phone is one series more for Prometheus to keep).
	PerPhone bool
}

// Collector collects the metrics of a set of phone units. Build it with [New].
type Collector struct {
	// Immutable after New.
	units    []*phone.Unit
	counters []*phone.Counters // distinct
	http     *webui.HTTPCounters
	perPhone bool
	d        descs
	v        voiceDescs

	mono monotonic // the RTP counters (voice.go)
}

// New returns the collector of opts' units.
func New(opts Options) *Collector {
	c := &Collector{units: opts.Units, http: opts.HTTP, perPhone: opts.PerPhone, d: newDescs(), v: newVoiceDescs()}
	seen := map[*phone.Counters]bool{}
	for _, u := range opts.Units {
		if pc := u.Counters(); pc != nil && !seen[pc] {
			seen[pc] = true
			c.counters = append(c.counters, pc)
		}
	}
	return c
}

// Registry returns a registry with the collector and the process's Go runtime and process
// collectors: what one /metrics serves.
func Registry(c *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves a registry in the Prometheus exposition formats.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

type descs struct {
	resyncAttempts, resyncSuccesses, resyncFailures, resyncForced *prometheus.Desc
	fetchSeconds                                                  *prometheus.Desc
	deferrals                                                     *prometheus.Desc
	upgAttempts, upgSuccesses, upgFailures                        *prometheus.Desc
	boots                                                         *prometheus.Desc
	httpRequests                                                  *prometheus.Desc
	phones, provisioning, pending                                 *prometheus.Desc
	info                                                          *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return descs{
		resyncAttempts:  d("resync_attempts_total", "Resyncs started, by trigger (boot, periodic, retry, trigger, request, after_upgrade).", "trigger"),
		resyncSuccesses: d("resync_successes_total", "Resyncs that ended in success."),
		resyncFailures:  d("resync_failures_total", "Resyncs that failed, by reason (a fixed set, see phone.FailureReason).", "reason"),
		resyncForced:    d("resync_forced_total", "Resyncs run while the phone was busy because Forced_Resync_Delay ran out."),
		fetchSeconds:    d("fetch_duration_seconds", "Latency of provisioning and firmware downloads, by scheme and result (ok, error).", "scheme", "result"),
		deferrals:       d("gate_deferrals_total", "Gated operations that had to wait for the phone to become idle, by operation.", "op"),
		upgAttempts:     d("upgrade_attempts_total", "Firmware downloads started."),
		upgSuccesses:    d("upgrade_successes_total", "Firmware images flashed."),
		upgFailures:     d("upgrade_failures_total", "Upgrades that failed, by reason.", "reason"),
		boots:           d("boots_total", "Boots of the phones (first boots and reboots)."),
		httpRequests:    d("http_requests_total", "Requests to the phones' web servers, by route class and status code.", "route", "code"),
		phones:          d("phones", "Phones by model and lifecycle state.", "model", "state"),
		provisioning:    d("provisioning_phones", "Phones by resync state (idle, waiting, fetching).", "state"),
		pending:         d("pending_operations", "Phones with a gated operation waiting for idle, by operation.", "op"),
		info:            d("phone_info", "One series per phone with its identity (only with per-phone metrics on).", "mac", "model", "software", "ip"),
	}
}

// Describe sends the descriptions of every series.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, x := range []*prometheus.Desc{d.resyncAttempts, d.resyncSuccesses, d.resyncFailures, d.resyncForced,
		d.fetchSeconds, d.deferrals, d.upgAttempts, d.upgSuccesses, d.upgFailures, d.boots, d.phones,
		d.provisioning, d.pending} {
		ch <- x
	}
	for _, x := range c.v.all() {
		ch <- x
	}
	if c.http != nil {
		ch <- d.httpRequests
	}
	if c.perPhone {
		ch <- d.info
	}
}

// Collect reads the counters and the units' status snapshots.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collectCounters(ch)
	// The counters are read before the snapshots: a call that ends meanwhile is then counted
	// in neither for a moment, never in both (phone's sessionEnded).
	ended, _ := c.collectVoiceCounters(ch)
	c.collectState(ch, ended)
	if c.http != nil {
		c.http.Each(func(class webui.RouteClass, code string, n uint64) {
			ch <- prometheus.MustNewConstMetric(c.d.httpRequests, prometheus.CounterValue, float64(n), class.String(), code)
		})
	}
}

// keyed sums a value over the distinct counters by its label values.
type keyed map[[2]string]uint64

func (c *Collector) collectCounters(ch chan<- prometheus.Metric) {
	d := c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	attempts, deferrals := keyed{}, keyed{}
	resync, upgrade := keyed{}, keyed{}
	var forced, upgAttempts, boots uint64
	type hist struct {
		count uint64
		sum   float64
		cum   map[float64]uint64
	}
	fetch := map[[2]string]*hist{}
	var order [][2]string
	for _, pc := range c.counters {
		pc.EachResyncAttempt(func(t string, n uint64) { attempts[[2]string{t}] += n })
		pc.EachResyncResult(func(r, reason string, n uint64) { resync[[2]string{r, reason}] += n })
		pc.EachDeferral(func(op string, n uint64) { deferrals[[2]string{op}] += n })
		pc.EachUpgradeResult(func(r, reason string, n uint64) { upgrade[[2]string{r, reason}] += n })
		forced += pc.ForcedResyncs()
		upgAttempts += pc.UpgradeAttempts()
		boots += pc.Boots()
		pc.EachFetchLatency(func(scheme, result string, h *phone.Histogram) {
			k := [2]string{scheme, result}
			n, s, cum := h.Snapshot()
			x := fetch[k]
			if x == nil {
				x = &hist{cum: map[float64]uint64{}}
				fetch[k] = x
				order = append(order, k)
			}
			x.count += n
			x.sum += s
			for b, v := range cum {
				x.cum[b] += v
			}
		})
	}
	for k, n := range attempts {
		counter(d.resyncAttempts, n, k[0])
	}
	for k, n := range deferrals {
		counter(d.deferrals, n, k[0])
	}
	for k, n := range resync {
		if k[0] == "success" {
			counter(d.resyncSuccesses, n)
		} else {
			counter(d.resyncFailures, n, k[1])
		}
	}
	for k, n := range upgrade {
		if k[0] == "success" {
			counter(d.upgSuccesses, n)
		} else {
			counter(d.upgFailures, n, k[1])
		}
	}
	counter(d.resyncForced, forced)
	counter(d.upgAttempts, upgAttempts)
	counter(d.boots, boots)
	for _, k := range order {
		x := fetch[k]
		ch <- prometheus.MustNewConstHistogram(d.fetchSeconds, x.count, x.sum, x.cum, k[0], k[1])
	}
}

func (c *Collector) collectState(ch chan<- prometheus.Metric, ended phone.RTPTotals) {
	d := c.d
	voice := newVoiceState()
	phones := map[[2]string]int{}
	prov := map[string]int{"idle": 0, "waiting": 0, "fetching": 0}
	pending := map[string]int{"reboot": 0, "restart": 0, "resync": 0, "upgrade": 0}
	for _, u := range c.units {
		st := u.Status()
		phones[[2]string{st.Model, string(st.State)}]++
		if st.State == phone.StateRunning || st.State == phone.StateUpgrading {
			if s := st.Provisioning.State; s != "" {
				prov[s]++
			}
		}
		for _, p := range st.Pending {
			pending[p.Op]++
		}
		if st.State == phone.StateRunning || st.State == phone.StateUpgrading {
			voice.add(st)
		}
		if c.perPhone {
			ch <- prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, st.MAC, st.Model, st.Software, st.IP)
		}
	}
	for k, n := range phones {
		ch <- prometheus.MustNewConstMetric(d.phones, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for s, n := range prov {
		ch <- prometheus.MustNewConstMetric(d.provisioning, prometheus.GaugeValue, float64(n), s)
	}
	for op, n := range pending {
		ch <- prometheus.MustNewConstMetric(d.pending, prometheus.GaugeValue, float64(n), op)
	}
	c.emitVoiceState(ch, voice, ended)
}
