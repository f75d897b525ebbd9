package testlog

import (
	"testing"
)

// A line logged after the test has ended is dropped, not a panic.
func TestLateLineDropped(t *testing.T) {
	var late func()
	t.Run("inner", func(t *testing.T) {
		log := New(t)
		log.Info("during the test")
		late = func() { log.Info("after the test") }
	})
	late()
}
