package phone

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Fleet runs many phone units in one process, each with its own flash, address, clock and
// logger: what a provisioning-server developer points at a server to see ten thousand phones
// boot (STYLE §14). One unit's failure never takes the others down: a unit whose Run fails
// is built again from its flash after a backoff.
type Fleet struct {
	// Immutable after NewFleet.
	units []*Unit
	log   *zap.Logger
}

// NewFleet prepares a unit for each options; nothing runs until [Fleet.Run].
func NewFleet(opts []Options, log *zap.Logger) (*Fleet, error) {
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fleet{log: log}
	for i := range opts {
		u, err := NewUnit(opts[i])
		if err != nil {
			return nil, err
		}
		f.units = append(f.units, u)
	}
	return f, nil
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
	for _, u := range f.units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.supervise(ctx, u)
		}()
	}
	wg.Wait()
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
