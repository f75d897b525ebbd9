package phone

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
)

// Fleet runs many phone units in one process, each with its own flash, address, clock and
// logger: what a provisioning-server developer points at a server to see ten thousand phones
// boot (STYLE §14). One unit's failure never takes the others down: a unit whose Run fails
// is built again from its flash after a backoff.
type Fleet struct {
	// Immutable after NewFleet.
	units []*Unit
	log   *zap.Logger

	sched *media.Scheduler // the units' RTP pacers unless their options bring their own

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
	for i := range opts {
		opts[i].shared = shared
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
	f.sched.Close() // every unit has stopped: no engine uses it any more
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
