package media

import (
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestRealtimeAllowedLeavesTheCaller: the try runs on a thread of its own; the caller's
// thread keeps the default policy whatever the answer.
func TestRealtimeAllowedLeavesTheCaller(t *testing.T) {
	if RealtimeAllowed(0) || RealtimeAllowed(100) {
		t.Error("priorities 0 and 100 allowed; want neither (1-99)")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	RealtimeAllowed(10)
	if runtime.GOOS != "linux" {
		return
	}
	policy, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, 0, 0, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if policy != 0 { // SCHED_OTHER
		t.Errorf("the caller's thread has policy %d after the try; want 0 (SCHED_OTHER)", policy)
	}
}

// TestPlaceSpreadsABurst: sessions of 20 ms starting in one burst (all within a slot) are
// placed one by one in the slots of a packet time that hold the fewest, so that every slot
// ends with as many; each first packet within one packet time of its start, at its start's
// offset within the slot; and a session of 30 ms packets among them as well.
func TestPlaceSpreadsABurst(t *testing.T) {
	sc, err := NewScheduler(1)
	if err != nil {
		t.Fatal(err)
	}
	pc := sc.pacers[0]
	const ptime = int64(20 * time.Millisecond)
	now := int64(time.Hour) + 300*int64(time.Microsecond)
	for i := range 1000 {
		start := now + int64(i)*int64(time.Microsecond/2) // a burst: 500 µs for the lot
		due := pc.place(start, ptime)
		if due < start || due >= start+ptime || due%slot != start%slot {
			t.Fatalf("session %d starting at %d placed at %d: want in [start, start+%d), same offset in its slot", i, start, due, ptime)
		}
		pc.heap.push(&Session{}, due)
	}
	var counts [20]int
	for _, e := range pc.heap {
		counts[e.due/slot%20]++
	}
	for i, c := range counts {
		if c != 50 {
			t.Errorf("slot %d of the packet time holds %d sessions, want 50 (all: %v)", i, c, counts)
			break
		}
	}
	if due := pc.place(now, int64(30*time.Millisecond)); due < now || due >= now+int64(30*time.Millisecond) {
		t.Errorf("a 30 ms session placed %d after its start, want within 30 ms", due-now)
	}
	if due := pc.place(now, int64(time.Millisecond)/2); due != now {
		t.Errorf("a packet time under a slot: placed %d after its start, want at once", due-now)
	}
}

// TestSchedHeapPopsInDueOrder: pushes and pops interleaved at random come out earliest first,
// push says whether the entry became the earliest, and each entry keeps its session.
func TestSchedHeapPopsInDueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h schedHeap
	dueOf := map[*Session]int64{}
	last := int64(-1)
	for i := range 20000 {
		if len(h) == 0 || r.IntN(3) > 0 {
			s, due := &Session{}, last+1+r.Int64N(1000)
			wasFirst := len(h) == 0 || due < h[0].due
			if first := h.push(s, due) == 0; first != wasFirst {
				t.Fatalf("push %d at %d: earliest %v, want %v", i, due, first, wasFirst)
			}
			dueOf[s] = due
			continue
		}
		e := h.pop()
		if e.due < last || dueOf[e.s] != e.due {
			t.Fatalf("pop %d: due %d of a session queued at %d, after %d", i, e.due, dueOf[e.s], last)
		}
		for _, o := range h {
			if o.due < e.due {
				t.Fatalf("pop %d: %d popped before %d", i, e.due, o.due)
			}
		}
		last = e.due
		delete(dueOf, e.s)
	}
}
