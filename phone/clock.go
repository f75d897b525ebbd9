package phone

import (
	"sync"
	"time"
)

// Clock is the time of the phone's policies: registration refresh, resync, retries, forced
// resync and the random boot delay (DECISIONS 20). Protocol timers never use it.
type Clock interface {
	// Now returns the current policy time.
	Now() time.Time
	// NewTimer returns a timer that fires after d of policy time.
	NewTimer(d time.Duration) Timer
}

// Timer is a policy timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration)
	// ResetAt rearms the timer for an instant of policy time, so that time passing between
	// reading the clock and rearming does not delay it.
	ResetAt(t time.Time)
}

// ScaledClock runs policy time Speed times faster than the host clock, from the moment it
// was made: with Speed 3600 an hour of schedule passes in a second. Speed 1 is the host clock.
type ScaledClock struct {
	origin time.Time
	speed  float64
}

// NewScaledClock returns a clock running speed times faster than real time (speed > 0).
func NewScaledClock(speed float64) *ScaledClock {
	if speed <= 0 {
		speed = 1
	}
	return &ScaledClock{origin: time.Now(), speed: speed}
}

// Now returns the policy time.
func (c *ScaledClock) Now() time.Time {
	if c.speed == 1 {
		return time.Now()
	}
	return c.origin.Add(time.Duration(float64(time.Since(c.origin)) * c.speed))
}

// NewTimer returns a timer firing after d of policy time.
func (c *ScaledClock) NewTimer(d time.Duration) Timer {
	return &realTimer{t: time.NewTimer(c.real(d)), c: c}
}

func (c *ScaledClock) real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.speed) }

type realTimer struct {
	t *time.Timer
	c *ScaledClock
}

func (t *realTimer) C() <-chan time.Time   { return t.t.C }
func (t *realTimer) Stop() bool            { return t.t.Stop() }
func (t *realTimer) Reset(d time.Duration) { t.t.Reset(t.c.real(d)) }

func (t *realTimer) ResetAt(at time.Time) { t.t.Reset(max(t.c.real(at.Sub(t.c.Now())), 0)) }

// ManualClock is a clock that moves only when told to: tests and step-by-step simulations
// use it to reach hours of schedule instantly and deterministically.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

// NewManualClock returns a manual clock standing at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and fires every timer that falls due.
//
// Timers change state and fire under the clock's lock only (a fire is a send on a channel of
// one that never blocks), so that an Advance racing a ResetAt never loses a fire.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.armed && !t.when.After(c.now) {
			t.armed = false
			t.fireLocked(c.now)
		}
	}
}

// NewTimer returns a timer that fires when the clock is advanced past d from now.
func (c *ManualClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, ch: make(chan time.Time, 1), when: c.now.Add(d), armed: true}
	c.timers = append(c.timers, t)
	if d <= 0 {
		t.armed = false
		t.ch <- c.now
	}
	return t
}

type manualTimer struct {
	c     *ManualClock
	ch    chan time.Time
	when  time.Time
	armed bool
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

func (t *manualTimer) Reset(d time.Duration) { t.ResetAt(t.c.Now().Add(d)) }

func (t *manualTimer) ResetAt(at time.Time) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select { // drain a stale fire
	case <-t.ch:
	default:
	}
	t.when = at
	t.armed = at.After(t.c.now)
	if !t.armed {
		t.fireLocked(t.c.now)
	}
}

// fireLocked sends a fire unless one is waiting already; the clock's lock is held.
func (t *manualTimer) fireLocked(now time.Time) {
	select {
	case t.ch <- now:
	default:
	}
}
