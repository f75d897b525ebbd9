package phone

import (
	"context"
	"errors"
	"testing"
)

// A reply the loop sent wins over the loop's end and the caller's context, even when all are
// ready at once (issue 9 item 10: POST /api/v1/reboot on an idle phone sometimes answered
// 503 "phone stopped" although the reboot was accepted). Each round arranges that the reply
// is in its channel and done is closed before the wait begins; a plain select picks either,
// so on the old code 200 rounds fail with certainty but for 2^-200.
func TestAwaitReplyPrefersTheReply(t *testing.T) {
	want := errors.New("the call's own answer")
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tt := range []struct {
		name  string
		ctx   context.Context
		reply error
	}{
		{"done, success", t.Context(), nil},
		{"done, error", t.Context(), want},
		{"done and ctx, success", cancelled, nil},
		{"done and ctx, error", cancelled, want},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 200 {
				reply := make(chan error, 1)
				done := make(chan struct{})
				reply <- tt.reply
				close(done)
				if got := awaitReply(tt.ctx, reply, done); got != tt.reply {
					t.Fatalf("round %d: awaitReply = %v, want the reply %v", i, got, tt.reply)
				}
			}
		})
	}
	t.Run("no reply", func(t *testing.T) {
		done := make(chan struct{})
		close(done)
		if got := awaitReply(t.Context(), make(chan error, 1), done); !errors.Is(got, ErrClosed) {
			t.Fatalf("loop ended without a reply: %v, want ErrClosed", got)
		}
		if got := awaitReply(cancelled, make(chan error, 1), make(chan struct{})); !errors.Is(got, context.Canceled) {
			t.Fatalf("ctx ended without a reply: %v, want context.Canceled", got)
		}
	})
}

// Every reboot asked of an idle phone is answered with its outcome, never ErrClosed: the
// loop replies, then ends for the reboot at once, so reply and done are both ready when the
// caller wakes (the end-to-end form of TestAwaitReplyPrefersTheReply).
func TestRebootRequestIsAnsweredOnIdlePhone(t *testing.T) {
	u, events := startUnit(t, Options{}, nil)
	for i := range 20 {
		p := mustPhone(t, u)
		out, err := p.RequestReboot(t.Context(), "test")
		if err != nil || out != OutcomeStarted {
			t.Fatalf("reboot %d: %v, %v; want started", i, out, err)
		}
		waitEvent(t, events, EventBoot)
	}
}

// A tracked goroutine that posts after the loop has ended does not hold up Run's wait for
// it, however many it posts: a post needs no room in the loop's queue then (it is dropped,
// as one queued then never ran), so the queue is sized for the loop's turns, not for what
// the phone's goroutines post while it shuts down. Each round posts far more than the
// queue holds after the loop's end, then the phone reboots: with posts that wait for room,
// the boot never comes.
func TestPostAfterTheLoopEndedDoesNotHoldRun(t *testing.T) {
	u, events := startUnit(t, Options{}, nil)
	for i := range 3 {
		p := mustPhone(t, u)
		posted := make(chan int, 1)
		p.goTracked(func() {
			<-p.stopped
			n := 0
			for range 50 * callQueue {
				p.post(func(*state) { t.Error("a post after the loop's end ran") })
				n++
			}
			posted <- n
		})
		if out, err := p.RequestReboot(t.Context(), "test"); err != nil || out != OutcomeStarted {
			t.Fatalf("reboot %d: %v, %v; want started", i, out, err)
		}
		waitEvent(t, events, EventBoot)
		if n := <-posted; n != 50*callQueue {
			t.Fatalf("round %d: %d posts returned, want %d", i, n, 50*callQueue)
		}
	}
}
