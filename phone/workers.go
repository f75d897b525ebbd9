package phone

import (
	"sync"
	"sync/atomic"
)

// maxIdleWorkers is how many goroutines of a fleet's workers wait for the next job at most.
// A storm keeps about as many jobs in flight as its rate times their time (a few hundred);
// a worker idle at a GC gives half its stack back.
const maxIdleWorkers = 128

// workers runs the tracked jobs of a fleet's phones (their resyncs, flash saves, reports)
// on goroutines that ran one before, when one is idle: a resync's goroutine grows its stack
// to some 32 KiB on the way through the HTTP client and the decode, and a fresh goroutine
// pays each doubling again (copying its frames): 5-9% of a storm's CPU. Busy or not, a job
// never waits for a worker: without an idle one it gets a goroutine of its own.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only into an idle worker
	done chan struct{}
	// stop ends the idle workers, and each busy one after its job; run still runs jobs
	// after it (each on a goroutine of its own).
	stop func()
	idle atomic.Int32
}

func newWorkers() *workers {
	w := &workers{jobs: make(chan func()), done: make(chan struct{})}
	w.stop = sync.OnceFunc(func() { close(w.done) })
	return w
}

// run runs job on an idle worker, or on a new one. A nil *workers (a phone outside a
// fleet) starts a goroutine for each job.
func (w *workers) run(job func()) {
	if w == nil {
		go job()
		return
	}
	select {
	case w.jobs <- job:
	default:
		go w.work(job)
	}
}

func (w *workers) work(job func()) {
	growStack(0)
	for {
		job()
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case job = <-w.jobs:
			w.idle.Add(-1)
		case <-w.done:
			w.idle.Add(-1)
			return
		}
	}
}

// jobStack is the frame growStack takes: a fresh worker's stack grows from its first 2 KiB
// to 32 KiB (the frame and the stack guard, rounded up to a power of two) in one copy of an
// almost empty stack, where a resync on it grew it in four doublings, each copying the frames
// of the HTTP exchange in flight and adjusting their pointers (runtime.newstack: 6-7 % of a
// 10,000-phone boot storm's CPU, all of its fresh workers).
const jobStack = 16 << 10

// growStack grows its goroutine's stack to hold a frame of jobStack bytes at once. i keeps
// the frame from being optimized away; any value does.
//
//go:noinline
func growStack(i int) byte {
	var frame [jobStack]byte
	frame[i%jobStack] = byte(i)
	return frame[(i+1)%jobStack]
}

// loopStack is the frame growLoopStack takes: a phone's loop goroutine (the unit's, which
// boots it and runs it) grows from its first 2 KiB to the 8 KiB it keeps at its boot's first
// turn (the "phone booted" line: zap's Check and encoder), two doublings each copying the
// frames in flight, 10,000 of them at the instant a fleet's boot time ends. Grown by this
// frame during the boot time instead, while the phone waits, it copies an almost empty stack
// once; it holds no more than it would have after its first turn.
const loopStack = 5 << 10

// growLoopStack grows its goroutine's stack to hold a frame of loopStack bytes. i keeps the
// frame from being optimized away; any value does.
//
//go:noinline
func growLoopStack(i int) byte {
	var frame [loopStack]byte
	frame[i%loopStack] = byte(i)
	return frame[(i+1)%loopStack]
}
