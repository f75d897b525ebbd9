package phone

import (
	"testing"
	"time"
)

// TestScaledClock: with --clock-speed 3600 an hour of policy time passes in a second.
func TestScaledClock(t *testing.T) {
	c := NewScaledClock(3600 * 100) // an hour in 10 ms
	start := c.Now()
	timer := c.NewTimer(time.Hour)
	select {
	case <-timer.C():
	case <-time.After(5 * time.Second):
		t.Fatal("an hour of policy time did not pass within 5 s at speed 360000")
	}
	if got := c.Now().Sub(start); got < time.Hour {
		t.Errorf("policy time advanced %v, want at least an hour", got)
	}
	timer.ResetAt(c.Now().Add(-time.Second)) // an instant already past fires at once
	select {
	case <-timer.C():
	case <-time.After(5 * time.Second):
		t.Fatal("ResetAt in the past did not fire")
	}
}

func TestManualClockResetAt(t *testing.T) {
	c := NewManualClock(time.Unix(0, 0))
	timer := c.NewTimer(time.Hour)
	timer.ResetAt(c.Now().Add(10 * time.Second))
	c.Advance(9 * time.Second)
	select {
	case <-timer.C():
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Second)
	select {
	case <-timer.C():
	default:
		t.Fatal("did not fire at its instant")
	}
}

// A ResetAt and an Advance past its instant that race never lose the fire: in either order the
// timer fires (the loop re-arms its timer while a test advances the clock). ResetAt used to
// drain the channel after releasing the clock's lock, so an Advance in between had its fire
// drained: the phone's loop then slept through its deadline (seen as a resync that never came
// under load).
func TestManualClockResetAtRacesAdvance(t *testing.T) {
	for i := range 5000 {
		c := NewManualClock(time.Unix(0, 0))
		timer := c.NewTimer(time.Hour)
		ready := make(chan struct{})
		done := make(chan struct{})
		go func() {
			<-ready
			c.Advance(time.Second)
			close(done)
		}()
		close(ready)
		timer.ResetAt(time.Unix(1, 0))
		<-done
		select {
		case <-timer.C():
		default:
			t.Fatalf("round %d: the timer did not fire, whatever the order of ResetAt and Advance", i)
		}
	}
}
