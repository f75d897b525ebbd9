package phone

import (
	"sync"
	"testing"
)

// A fleet's workers run every job, never make one wait for another (a job that blocks does
// not hold up the next), and still run jobs after they were stopped.
func TestWorkersRunEveryJobAtOnce(t *testing.T) {
	w := newWorkers()
	release := make(chan struct{})
	var started, wg sync.WaitGroup
	const blocked = 3 * maxIdleWorkers // more than the workers that may be idle
	started.Add(blocked)
	wg.Add(blocked)
	for range blocked {
		w.run(func() {
			defer wg.Done()
			started.Done()
			<-release
		})
	}
	started.Wait() // every blocking job runs at once
	close(release)
	wg.Wait()
	for round := range 3 { // the idle workers take these, or new ones
		var ran sync.WaitGroup
		ran.Add(1000)
		for range 1000 {
			w.run(ran.Done)
		}
		ran.Wait()
		if round == 1 {
			w.stop()
			w.stop() // idempotent
		}
	}
	var none *workers // a phone outside a fleet: a goroutine each
	done := make(chan struct{})
	none.run(func() { close(done) })
	<-done
}
