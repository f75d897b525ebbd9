package phone

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// unknownProfile is a flat-profile of n unknown elements, names unique to round.
func unknownProfile(round, n int) []byte {
	var b strings.Builder
	b.WriteString("<flat-profile>")
	for i := range n {
		fmt.Fprintf(&b, "<Unknown_%d_%d>v</Unknown_%d_%d>", round, i, round, i)
	}
	b.WriteString("<GPP_A>" + fmt.Sprint(round) + "</GPP_A></flat-profile>")
	return []byte(b.String())
}

// Issue 9 item 1: every unknown element name went into the config_applied event (kept on the
// bus) and into one log line; 500 posts of 1 MiB profiles took the process from 12 MB to
// 2.26 GB. Now the event and the log line carry the count and the first 20 names, the bus
// stays within its bound, and the heap does not grow with the posts.
func TestUnknownProfileNamesAreBounded(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	u, events := startUnit(t, Options{Logger: zap.New(core)}, nil)
	p := mustPhone(t, u)
	const names = 5000 // about 170 KB of profile
	body := unknownProfile(0, names)
	if _, err := p.ApplyProfile(t.Context(), "api", body); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, events, EventConfigApplied)
	if got := e.Data["unknown"].([]string); len(got) != maxNamesShown || got[0] != "Unknown_0_0" {
		t.Fatalf("event carries %d unknown names (%v…), want the first %d", len(got), got[:min(len(got), 3)], maxNamesShown)
	}
	if e.Data["unknown_count"] != names {
		t.Fatalf("unknown_count = %v, want %d", e.Data["unknown_count"], names)
	}
	line := logs.FilterMessage("profile names ignored").All()
	if len(line) != 1 {
		t.Fatalf("%d 'profile names ignored' lines, want 1", len(line))
	}
	fields := line[0].ContextMap()
	if got := fields["param"].([]any); len(got) != maxNamesShown || fields["count"] != int64(names) {
		t.Fatalf("log line carries %d names and count %v", len(got), fields["count"])
	}

	// The attack: many such posts. The heap after them is what it was after the first.
	before := heapInUse()
	for round := 1; round <= 10; round++ {
		if _, err := p.ApplyProfile(t.Context(), "api", unknownProfile(round, names)); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heapInUse()) - int64(before)
	kept, count := u.Bus().KeptBytes()
	t.Logf("after 10 posts of %d KB: heap grew %d KB; bus keeps %d events, %d KB", len(body)>>10, grown>>10, count, kept>>10)
	if kept > u.Bus().MaxBytes() {
		t.Errorf("bus keeps %d bytes, bound %d", kept, u.Bus().MaxBytes())
	}
	if grown > 1<<20 {
		t.Errorf("heap grew by %d KB over 10 posts, want it flat (< 1 MB)", grown>>10)
	}
}
