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

// deepStack recurses n frames of about 256 bytes each: a job that needs n×256 bytes of stack.
//
//go:noinline
func deepStack(n int) byte {
	var pad [224]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deepStack(n-1) + pad[(n+1)%len(pad)]
}

// BenchmarkFreshWorkerStack is a job needing 24 KiB of stack on a fresh goroutine, as a storm's
// resyncs start on fresh workers: the stack grown at once (growStack) or in doublings.
func BenchmarkFreshWorkerStack(b *testing.B) {
	for _, grow := range []bool{false, true} {
		name := "doublings"
		if grow {
			name = "grown-at-once"
		}
		b.Run(name, func(b *testing.B) {
			done := make(chan byte)
			for b.Loop() {
				go func() {
					if grow {
						growStack(0)
					}
					done <- deepStack(96)
				}()
				<-done
			}
		})
	}
}
