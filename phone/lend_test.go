package phone

import (
	"testing"

	"github.com/spa900/spa900/provisioning/config"
)

// TestLenderLends checks the buffers a fleet's lender lends to resyncs: a change buffer comes back
// emptied and cleared (what it lends keeps no profile's strings), a larger one that took its
// place is kept up to the bound, and without a limiter nothing is lent.
func TestLenderLends(t *testing.T) {
	var none *lender
	if none.body() != nil || none.changeBuffer() != nil {
		t.Fatal("a nil lender lends")
	}
	none.putBody(nil, nil)
	none.putChanges(nil, nil)

	l := new(lender)
	cb := l.changeBuffer()
	used := append((*cb)[:0], config.Set("GPP_A", "a"), config.Set("GPP_B", "b"))
	l.putChanges(cb, used)
	if len(*cb) != 0 || cap(*cb) < 2 {
		t.Fatalf("change buffer back with len %d cap %d, want 0 and room for 2", len(*cb), cap(*cb))
	}
	for i, c := range (*cb)[:cap(*cb)] {
		if c != (config.Change{}) {
			t.Fatalf("change %d kept after its return: %+v", i, c)
		}
	}
	// A decode that failed wrote into the buffer and gave nothing back.
	*cb = append((*cb)[:0], config.Set("GPP_C", "c"))
	l.putChanges(cb, nil)
	if (*cb)[:1][0] != (config.Change{}) {
		t.Fatal("a failed decode's change kept")
	}
	// Too large to keep: the buffer stays what it was.
	before := cap(*cb)
	l.putChanges(cb, make([]config.Change, 1, maxLentChanges+1))
	if cap(*cb) != before {
		t.Fatalf("change buffer of %d kept, bound %d", cap(*cb), maxLentChanges)
	}

	rb := l.body()
	if rb == nil || cap(rb.b) == 0 {
		t.Fatal("no body buffer lent")
	}
	bigger := make([]byte, 100, 2*cap(rb.b))
	l.putBody(rb, bigger)
	if cap(rb.b) != cap(bigger) || len(rb.b) != 0 {
		t.Fatalf("body buffer back with len %d cap %d, want the bigger one emptied", len(rb.b), cap(rb.b))
	}
	l.putBody(rb, make([]byte, 0, maxLentBody+1))
	if cap(rb.b) != cap(bigger) {
		t.Fatalf("body buffer of %d kept, bound %d", cap(rb.b), maxLentBody)
	}
}
