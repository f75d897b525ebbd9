//go:build linux

package media

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// threadPolicy is thread tid's scheduling policy (0 SCHED_OTHER, 1 SCHED_FIFO); -1 when the
// thread is gone.
func threadPolicy(tid int) int {
	p, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return -1
	}
	return int(p)
}

// TestYieldKeepsThePacersThread: after every yield of a pacer (yieldUnlocked) it runs on the
// thread its tid says, with the real-time policy where the process may have it, and every
// thread it left is back on the default policy, while other goroutines keep every P busy so
// that another thread takes the pacer now and then (the test yields until that happened 50
// times).
func TestYieldKeepsThePacersThread(t *testing.T) {
	sc, err := NewScheduler(1)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	pc := sc.pacers[0]
	rt := RealtimeAllowed(1)
	if rt {
		sc.rtPrio = 1
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
		})
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, its policy with it
		pc.tid.Store(int64(threadID()))
		pc.rt = rt && realtimeThread(1)
		left := map[int]bool{}
		for i := 0; i < 200000 && pc.moved.Load() < 50; i++ { // until other threads took it often
			before := threadID()
			pc.yieldSlot()
			now := threadID()
			if int64(now) != pc.tid.Load() {
				done <- fmt.Errorf("yield %d: on thread %d, the pacer's tid says %d", i, now, pc.tid.Load())
				return
			}
			if pc.rt && threadPolicy(now) != 1 {
				done <- fmt.Errorf("yield %d: thread %d has policy %d, want 1 (SCHED_FIFO)", i, now, threadPolicy(now))
				return
			}
			if now != before {
				left[before] = true
			}
			delete(left, now)
			for tid := range left {
				if p := threadPolicy(tid); p > 0 {
					done <- fmt.Errorf("yield %d: thread %d the pacer left has policy %d, want 0", i, tid, p)
					return
				}
			}
		}
		done <- nil
	}()
	err = <-done
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if pc.moved.Load() == 0 {
		t.Errorf("%d yields, none resumed on another thread: the moves went untested", pc.yields.Load())
	}
	t.Logf("%d yields, %d resumed on another thread (real-time: %v)", pc.yields.Load(), pc.moved.Load(), pc.rt)
}
