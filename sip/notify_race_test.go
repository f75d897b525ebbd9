package sip

import (
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// doneTx is a server transaction that has ended.
type doneTx struct {
	sipmsg.ServerTransaction
	done chan struct{}
}

func (tx doneTx) Done() <-chan struct{} { return tx.done }

// The phone's answer to a control NOTIFY wins when it was sent as the transaction ended:
// both are ready when decide waits, and a plain select picks either (the pattern of issue 9
// item 10). 200 rounds fail on the old code but for 2^-200.
func TestDecidePrefersTheReply(t *testing.T) {
	a := &Agent{cfg: Config{OnEvent: func(Event) {}}}
	tx := doneTx{done: make(chan struct{})}
	close(tx.done)
	for i := range 200 {
		r := newReplier()
		r.respond(200, "OK")
		if code, reason := a.decide(&r, func() {}, tx); code != 200 || reason != "OK" {
			t.Fatalf("round %d: decide = %d %s, want the phone's 200 OK", i, code, reason)
		}
	}
}
