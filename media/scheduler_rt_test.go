package media

import (
	"runtime"
	"syscall"
	"testing"
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
