package phone

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/firmware"
)

// Counters are the event counts of phone units, for metrics: resyncs by trigger and by
// result, fetch latencies, gate deferrals, upgrades. A unit keeps them across its reboots (a
// Prometheus counter never goes down), and a fleet gives all its units one Counters
// ([Options.Counters]), so that a scrape reads one set of atomics whatever the fleet's size.
//
// The loop counts where it decides (one atomic add, no lock, no allocation); readers take
// the values with the Each methods at any time. State — how many phones boot, run, wait —
// is not counted here: collectors read it from the units' [Status] snapshots.
//
// Every label value comes from a fixed, documented set, so that the series stay few for any
// number of phones. The zero value is ready to use; it is safe for concurrent use.
type Counters struct {
	resyncAttempts [numTriggers]atomic.Uint64
	resyncSuccess  atomic.Uint64
	resyncFailures [numReasons]atomic.Uint64
	forcedResyncs  atomic.Uint64
	deferrals      [numGatedOps]atomic.Uint64
	upgAttempts    atomic.Uint64
	upgSuccess     atomic.Uint64
	upgFailures    [numReasons]atomic.Uint64
	boots          atomic.Uint64
	fetch          [numSchemes][2]Histogram // [scheme][0 ok, 1 error]
	voice          voiceCounters            // registrations, calls, SIP, RTP (counters_voice.go)
}

// Resync triggers, the label values of [Counters.EachResyncAttempt].
var resyncTriggers = [...]string{"boot", "periodic", "retry", "trigger", "request", "after_upgrade"}

const numTriggers = len(resyncTriggers)

func triggerIndex(reason string) int {
	switch reason {
	case "boot":
		return 0
	case "periodic":
		return 1
	case "retry":
		return 2
	case "trigger":
		return 3
	case "after upgrade", "after upgrade attempt":
		return 5
	}
	return 4 // request: the web page, the API, NOTIFY
}

// Failure reasons: the bounded label values that [FailureReason] maps errors to.
const (
	ReasonNotFound       = "not_found"       // file not found, and Resync_Fails_On_FNF is Yes
	ReasonTimeout        = "timeout"         // the server stopped answering
	ReasonConnection     = "connection"      // refused, reset, closed before an answer, unreachable
	ReasonOpenFiles      = "open_files"      // the process had no file descriptor left (EMFILE, ENFILE)
	ReasonLocalPorts     = "local_ports"     // no local address or port to connect from (EADDRNOTAVAIL)
	ReasonDNS            = "dns"             // host not found
	ReasonTLS            = "tls"             // untrusted server, refused client certificate
	ReasonHTTPStatus     = "http_status"     // an HTTP answer other than 2xx and 404
	ReasonTFTPError      = "tftp_error"      // a TFTP ERROR other than file not found
	ReasonTooLarge       = "too_large"       // over the size limit
	ReasonTruncated      = "truncated"       // the body ended early
	ReasonCorrupt        = "corrupt"         // not a profile, wrong or missing key
	ReasonInvalidProfile = "invalid_profile" // a value the configuration refuses
	ReasonRule           = "rule"            // a rule, URL or trigger that does not parse; no server
	ReasonUnsupported    = "unsupported"     // a scheme the operation cannot use
	ReasonBadImage       = "bad_image"       // a firmware image that does not parse or check
	ReasonWrongModel     = "wrong_model"     // a firmware image for another model
	ReasonDowngrade      = "downgrade"       // below Downgrade_Rev_Limit
	ReasonCanceled       = "canceled"        // the phone stopped meanwhile
	ReasonOther          = "other"
)

var reasons = [...]string{
	ReasonNotFound, ReasonTimeout, ReasonConnection, ReasonOpenFiles, ReasonLocalPorts, ReasonDNS, ReasonTLS, ReasonHTTPStatus,
	ReasonTFTPError, ReasonTooLarge, ReasonTruncated, ReasonCorrupt, ReasonInvalidProfile,
	ReasonRule, ReasonUnsupported, ReasonBadImage, ReasonWrongModel, ReasonDowngrade,
	ReasonCanceled, ReasonOther,
}

const numReasons = len(reasons)

// FailureReason maps the error of a resync or an upgrade to one of the Reason constants: the
// $ERR texts are many and carry URLs and details; a metric label must not.
func FailureReason(err error) string {
	var (
		se *provisioning.StatusError
		te *provisioning.TFTPError
		de *net.DNSError
		ae *config.ApplyError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, provisioning.ErrNotFound):
		return ReasonNotFound
	case errors.Is(err, provisioning.ErrTLS):
		return ReasonTLS
	case errors.As(err, &se):
		return ReasonHTTPStatus
	case errors.As(err, &te):
		return ReasonTFTPError
	case errors.Is(err, provisioning.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, provisioning.ErrTooLarge), errors.Is(err, firmware.ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, provisioning.ErrTruncated):
		return ReasonTruncated
	case errors.Is(err, provisioning.ErrCorruptFile), errors.Is(err, provisioning.ErrWrongKey), errors.Is(err, provisioning.ErrNoKey),
		errors.Is(err, config.ErrMalformedProfile):
		return ReasonCorrupt
	case errors.As(err, &ae), errors.Is(err, config.ErrInvalidValue), errors.Is(err, config.ErrReadOnly), errors.Is(err, config.ErrUnknownParam):
		return ReasonInvalidProfile
	case errors.Is(err, provisioning.ErrSyntax), errors.Is(err, provisioning.ErrNoServer), errors.Is(err, provisioning.ErrStringOrder):
		return ReasonRule
	case errors.Is(err, provisioning.ErrUnsupported), errors.Is(err, errUpgradeHTTPS):
		return ReasonUnsupported
	case errors.Is(err, firmware.ErrWrongModel):
		return ReasonWrongModel
	case errors.Is(err, errDowngradeLimit):
		return ReasonDowngrade
	case errors.Is(err, firmware.ErrBadMagic), errors.Is(err, firmware.ErrUnsupportedFormat), errors.Is(err, firmware.ErrTruncated),
		errors.Is(err, firmware.ErrMalformed), errors.Is(err, firmware.ErrChecksum), errors.Is(err, firmware.ErrInvalidImage):
		return ReasonBadImage
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return ReasonOpenFiles
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return ReasonLocalPorts
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF):
		return ReasonConnection
	case errors.As(err, &de):
		return ReasonDNS
	}
	return ReasonOther
}

func reasonIndex(r string) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return numReasons - 1
}

// Gated operations, the label values of [Counters.EachDeferral].
var gatedOps = [...]string{"reboot", "restart", "resync", "upgrade"}

const numGatedOps = len(gatedOps)

// Fetch schemes, the label values of [Counters.EachFetchLatency].
var schemes = [...]string{provisioning.SchemeTFTP, provisioning.SchemeHTTP, provisioning.SchemeHTTPS}

const numSchemes = len(schemes)

// LatencyBuckets are the upper bounds, in seconds, of the fetch latency histograms: from a
// loopback TFTP transfer to a provisioning server that stalls until the fetch timeout.
var LatencyBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Histogram counts durations into [LatencyBuckets]; the zero value is ready. It is safe for
// concurrent use.
type Histogram struct {
	buckets [len(LatencyBuckets) + 1]atomic.Uint64 // the last: above every bound
	count   atomic.Uint64
	sumNano atomic.Uint64
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNano.Add(uint64(max(d, 0)))
	h.count.Add(1)
}

// Snapshot returns the count, the sum in seconds and the cumulative count at each bound of
// [LatencyBuckets], as Prometheus histograms want them. Counts read while observations land
// may be a few apart, never negative.
func (h *Histogram) Snapshot() (count uint64, sum float64, cumulative map[float64]uint64) {
	cumulative = make(map[float64]uint64, len(LatencyBuckets))
	var acc uint64
	for i, b := range LatencyBuckets {
		acc += h.buckets[i].Load()
		cumulative[b] = acc
	}
	count = max(h.count.Load(), acc+h.buckets[len(LatencyBuckets)].Load())
	return count, float64(h.sumNano.Load()) / 1e9, cumulative
}

// Counting, by the loop and its jobs. A nil *Counters counts nothing.

func (c *Counters) resyncStarted(reason string) {
	if c != nil {
		c.resyncAttempts[triggerIndex(reason)].Add(1)
	}
}

func (c *Counters) resyncEnded(err error) {
	if c == nil {
		return
	}
	if err == nil {
		c.resyncSuccess.Add(1)
		return
	}
	c.resyncFailures[reasonIndex(FailureReason(err))].Add(1)
}

func (c *Counters) resyncForced() {
	if c != nil {
		c.forcedResyncs.Add(1)
	}
}

func (c *Counters) deferred(op string) {
	if c == nil {
		return
	}
	for i, o := range gatedOps {
		if o == op {
			c.deferrals[i].Add(1)
		}
	}
}

func (c *Counters) upgradeStarted() {
	if c != nil {
		c.upgAttempts.Add(1)
	}
}

func (c *Counters) upgradeEnded(err error) {
	if c == nil {
		return
	}
	if err == nil {
		c.upgSuccess.Add(1)
		return
	}
	c.upgFailures[reasonIndex(FailureReason(err))].Add(1)
}

func (c *Counters) booted() {
	if c != nil {
		c.boots.Add(1)
	}
}

// fetched counts the latency of one provisioning or firmware fetch, by scheme and whether it
// failed.
func (c *Counters) fetched(scheme string, err error, d time.Duration) {
	if c == nil {
		return
	}
	for i, s := range schemes {
		if s == scheme {
			r := 0
			if err != nil {
				r = 1
			}
			c.fetch[i][r].Observe(d)
		}
	}
}

// Reading.

// EachResyncAttempt calls fn with every trigger (boot, periodic, retry, trigger, request,
// after_upgrade) and the resyncs it started.
func (c *Counters) EachResyncAttempt(fn func(trigger string, n uint64)) {
	for i, t := range resyncTriggers {
		fn(t, c.resyncAttempts[i].Load())
	}
}

// EachResyncResult calls fn with the successful resyncs (result "success", reason "") and
// the failed ones by reason (result "failure").
func (c *Counters) EachResyncResult(fn func(result, reason string, n uint64)) {
	fn("success", "", c.resyncSuccess.Load())
	for i, r := range reasons {
		fn("failure", r, c.resyncFailures[i].Load())
	}
}

// ForcedResyncs returns how many resyncs ran while the phone was busy because
// Forced_Resync_Delay ran out (DECISIONS 11).
func (c *Counters) ForcedResyncs() uint64 { return c.forcedResyncs.Load() }

// EachDeferral calls fn with every gated operation (reboot, restart, resync, upgrade) and
// how many times it had to wait for the phone to become idle.
func (c *Counters) EachDeferral(fn func(op string, n uint64)) {
	for i, o := range gatedOps {
		fn(o, c.deferrals[i].Load())
	}
}

// UpgradeAttempts returns how many firmware downloads started.
func (c *Counters) UpgradeAttempts() uint64 { return c.upgAttempts.Load() }

// EachUpgradeResult calls fn with the upgrades flashed (result "success", reason "") and the
// failed ones by reason.
func (c *Counters) EachUpgradeResult(fn func(result, reason string, n uint64)) {
	fn("success", "", c.upgSuccess.Load())
	for i, r := range reasons {
		fn("failure", r, c.upgFailures[i].Load())
	}
}

// Boots returns how many times the units booted.
func (c *Counters) Boots() uint64 { return c.boots.Load() }

// EachFetchLatency calls fn with the latency histogram of every scheme (tftp, http, https)
// and result (ok, error).
func (c *Counters) EachFetchLatency(fn func(scheme, result string, h *Histogram)) {
	for i, s := range schemes {
		fn(s, "ok", &c.fetch[i][0])
		fn(s, "error", &c.fetch[i][1])
	}
}
