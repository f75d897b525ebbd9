package phone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/sip"
)

// Fleet runs many phone units in one process, each with its own flash, address, clock and
// logger: what a provisioning-server developer points at a server to see ten thousand phones
// boot (STYLE §14). One unit's failure never takes the others down: a unit whose Run fails
// is built again from its flash after a backoff.
type Fleet struct {
	// Immutable after NewFleet.
	units []*Unit
	log   *zap.Logger

	sched   *media.Scheduler // the units' RTP pacers unless their options bring their own
	workers *workers         // the units' tracked jobs

	spread time.Duration // set before Run: see SetBootSpread
}

// fleetBuilders is how many units NewFleet prepares at once: reading and writing flashes
// waits on the disk, and a fleet's flash database commits the new flashes of all the
// builders in one transaction.
const fleetBuilders = 256

// NewFleet prepares a unit for each options, many at once; nothing runs until [Fleet.Run].
// It fails with the error of the first options (in order) whose unit cannot be prepared.
func NewFleet(opts []Options, log *zap.Logger) (*Fleet, error) {
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fleet{log: log, units: make([]*Unit, len(opts))}
	// One media scheduler for the fleet's calls: GOMAXPROCS pacer threads for the process,
	// not two per phone in a call, and a wake-up serves every phone's packets due then.
	// Its goroutines start with the first call and stop when Run returns.
	sched, err := media.NewScheduler(0)
	if err != nil {
		return nil, err
	}
	f.sched = sched
	opts = slices.Clone(opts)
	shared := new(sharedSnapshots)
	lend := new(lender) // resyncs' buffers, lent from one to the next (stormcpu)
	rules := new(ruleCache)
	f.workers = newWorkers()
	for i := range opts {
		opts[i].shared, opts[i].lend, opts[i].rules, opts[i].workers = shared, lend, rules, f.workers
		if opts[i].MediaScheduler == nil {
			opts[i].MediaScheduler = sched
		}
	}
	errs := make([]error, len(opts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(opts), fleetBuilders) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(opts) {
					return
				}
				f.units[i], errs[i] = NewUnit(opts[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// SetBootSpread spreads the power-on of the fleet's units evenly over d, in their order, at
// Run and at every [Fleet.PowerCycle]: unit i of n boots i×d/n after the power comes back.
// 0, the default, powers them all on at once, as a building's circuit does. Call it before
// Run.
func (f *Fleet) SetBootSpread(d time.Duration) { f.spread = max(d, 0) }

// LimitTransfers makes the fleet's units run at most n provisioning transfers at once,
// together (see [Limiter]). Call it before Run.
func (f *Fleet) LimitTransfers(n int) {
	l := NewLimiter(n)
	for _, u := range f.units {
		u.opts.Transfers = l
	}
}

// LimitPhoneFiles makes the SIP extensions and the calls of the fleet's phones hold at most
// n files together ([Unit.SIPFiles] counts an extension's, [FilesPerCall] a call's): an
// extension whose files are not left is out of service, as with "too many open files" (which
// it stands for), and tries again on its schedule; a call whose files are not left fails as
// it would then. A fleet started past its open file limit (cmd's --overcommit-files) keeps
// that way what its web servers, its provisioning and the process need: without it, the
// extensions that came first took every file, and no phone's page could be served. Call it
// before Run.
func (f *Fleet) LimitPhoneFiles(n int) {
	q := &fileQuota{}
	q.free.Store(int64(max(n, 0)))
	for _, u := range f.units {
		u.opts.files = q
	}
}

// fileQuota is a count of open files that holders take and give back (a media.FileQuota).
type fileQuota struct{ free atomic.Int64 }

// Take takes n files, or none and returns false when fewer are left. A nil quota has no
// bound.
func (q *fileQuota) Take(n int) bool {
	if q == nil {
		return true
	}
	for {
		free := q.free.Load()
		if free < int64(n) {
			return false
		}
		if q.free.CompareAndSwap(free, free-int64(n)) {
			return true
		}
	}
}

// Give gives back n files taken.
func (q *fileQuota) Give(n int) {
	if q != nil {
		q.free.Add(int64(n))
	}
}

// errSIPFiles is an extension's bind refused by the fleet's file quota.
var errSIPFiles = fmt.Errorf("the fleet's open files for its phones are all in use (its open file limit is below what it needs): %w", syscall.EMFILE)

// FilesPerCall is what a call holds of its phone's open files: the RTP and the RTCP socket
// of its media session.
const FilesPerCall = 2

// FileBudget is what [Fleet.PlanFiles] shares out: the process's open file limit, what
// the process keeps for itself, and what the phones may be doing at once.
type FileBudget struct {
	// Limit is the process's open file limit (the soft one, once raised to the hard one).
	Limit int
	// Reserve is what the process keeps besides its phones: standard streams, the flash
	// database, its own listeners, connections to the phones' web servers.
	Reserve int
	// WebListeners is the listening sockets of the phones' web servers: one per port their
	// fleet shares (webui.Hub), one per phone that listens on its own.
	WebListeners int
	// Calls is how many calls may be in progress at once in the fleet, counted at each
	// phone (a call between two phones of the fleet counts twice); each holds
	// FilesPerCall. Negative: one per phone that has an extension enabled (a phone without
	// one has no line to call on, [Unit.SIPFiles] counts none).
	Calls int
	// MinTransfers is the fewest provisioning transfers the fleet must be able to run at
	// once (at least 1).
	MinTransfers int
}

// FilePlan is how a fleet's phones share the open files: what they hold idle, what their
// calls take, and how many provisioning transfers the rest leaves.
type FilePlan struct {
	Limit, Phones int
	Web, SIP      int // the web listeners, and the files of all the phones' SIP extensions
	Calls         int // the calls budgeted; CallFiles = Calls × FilesPerCall
	CallFiles     int
	Reserve       int
	// Transfers is how many provisioning transfers the remainder runs at once (Limit minus
	// everything above), at least MinTransfers when the fleet fits.
	Transfers int
	// PhoneRoom is what the limit leaves the phones' extensions and calls once the web
	// listeners, the reserve and MinTransfers transfers have theirs: the bound to give
	// [Fleet.LimitPhoneFiles] for a fleet that does not fit and is started anyway.
	PhoneRoom int
	// Extensions is the files a phone's SIP extensions hold, on average, rounded up (one per
	// enabled extension on UDP; on TCP or TLS a listener and a connection per destination);
	// PerPhone the files a phone of that shape holds with its share of the calls, rounded up;
	// Fit how many such phones the limit holds with the web listeners and MinTransfers
	// transfers.
	Extensions, PerPhone, Fit int
}

// need is the files the fleet needs with minTransfers transfers in flight.
func (p FilePlan) need(minTransfers int) int {
	return p.Web + p.SIP + p.CallFiles + p.Reserve + minTransfers
}

// PlanFiles shares the process's open files among the fleet's phones: the web servers'
// listeners, each phone's SIP extensions (a socket per enabled extension on UDP; on TCP or
// TLS its listener and a connection per destination, [Unit.SIPFiles]), FilesPerCall for each
// call budgeted and one file per provisioning transfer in flight. When they fit, it bounds the fleet's transfers
// to what is left (when that is fewer than the phones: [Fleet.LimitTransfers]), so that a
// boot storm waits for files rather than failing with "too many open files". When they do
// not fit it changes nothing and returns the plan with an error wrapping [ErrOpenFiles]
// that says how many phones fit: a fleet that starts anyway fails mid-run, a socket here and
// a fetch there. Call it before Run.
func (f *Fleet) PlanFiles(b FileBudget) (FilePlan, error) {
	n := len(f.units)
	p := FilePlan{Limit: b.Limit, Phones: n, Reserve: b.Reserve, Calls: b.Calls, Web: b.WebListeners}
	phonesWithLines := 0
	for _, u := range f.units {
		p.SIP += u.SIPFiles()
		if u.SIPFiles() > 0 {
			phonesWithLines++
		}
	}
	if p.Calls < 0 {
		p.Calls = phonesWithLines
	}
	p.CallFiles = p.Calls * FilesPerCall
	minT := max(b.MinTransfers, 1)
	if n > 0 {
		p.Extensions = (p.SIP + n - 1) / n
		p.PerPhone = (p.SIP + p.CallFiles + n - 1) / n
	}
	p.Fit = max(0, (b.Limit-b.Reserve-p.Web-minT)/max(p.PerPhone, 1))
	p.Transfers = b.Limit - p.Web - p.SIP - p.CallFiles - p.Reserve
	p.PhoneRoom = max(0, b.Limit-p.Web-p.Reserve-minT)
	if need := p.need(minT); need > b.Limit {
		p.Transfers = max(p.Transfers, 0)
		return p, fmt.Errorf("%w: %d phones need %d files (each about %d: %d for its SIP extensions, its share of %d calls at %d files each; plus %d web listeners, %d for the process and %d transfers at once), the limit is %d: %d such phones fit",
			ErrOpenFiles, n, need, p.PerPhone, p.Extensions, p.Calls, FilesPerCall, p.Web, p.Reserve, minT, b.Limit, p.Fit)
	}
	if p.Transfers < n {
		f.LimitTransfers(p.Transfers)
	}
	return p, nil
}

// offset is unit i's share of the spread.
func (f *Fleet) offset(i int) time.Duration {
	if f.spread <= 0 || len(f.units) == 0 {
		return 0
	}
	return time.Duration(int64(f.spread) * int64(i) / int64(len(f.units)))
}

// PowerCycle cuts the power of every unit at once and brings it back spread as
// [Fleet.SetBootSpread] says: a boot storm again, on the flashes the phones have now.
func (f *Fleet) PowerCycle() {
	for i, u := range f.units {
		u.PowerCycle(f.offset(i))
	}
}

// Units returns the fleet's units, in the order of their options.
func (f *Fleet) Units() []*Unit { return f.units }

// fleetBackoff bounds how fast a failing unit is rebuilt.
const (
	fleetBackoffMin = time.Second
	fleetBackoffMax = time.Minute
)

// Run runs every unit until ctx ends. It returns when all of them have stopped.
func (f *Fleet) Run(ctx context.Context) error {
	// One watch for the first datagram of every idle extension of the fleet, in place of a
	// goroutine parked on each socket (12,000 for 3,000 SPA942s). Without one (no epoll),
	// each extension waits on its own.
	if idle, err := sip.NewIdleWatch(); err != nil {
		f.log.Debug("each extension waits on a goroutine of its own", zap.Error(err))
	} else {
		for _, u := range f.units {
			u.opts.sipIdle = idle
		}
		defer idle.Close() // after every unit, and so every agent, has stopped
	}
	var wg sync.WaitGroup
	for i, u := range f.units {
		u.setPowerDelay(f.offset(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.supervise(ctx, u)
		}()
	}
	wg.Wait()
	f.sched.Close()  // every unit has stopped: no engine uses it any more
	f.workers.stop() // nor a tracked job: every phone waited for its own
	return nil
}

// supervise runs one unit, building it again from its flash when it fails.
func (f *Fleet) supervise(ctx context.Context, u *Unit) {
	backoff := fleetBackoffMin
	for {
		err := u.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		f.log.Error("unit failed", zap.String("phone", u.Status().MAC), zap.Error(err), zap.Duration("next_in", backoff))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, fleetBackoffMax)
	}
}
