package phone

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/config"
)

// typicalEvents are events of the kinds a phone publishes most, with realistic fields.
func typicalEvent(i int) (string, map[string]any) {
	switch i % 4 {
	case 0:
		return EventResyncResult, map[string]any{"result": "success", "url": fmt.Sprintf("http://prov.example:80/SPA942/spa000e08%06x.cfg", i),
			"err": "", "changed": []string{"GPP_A", "Station_Name"}, "prvst": 1, "next_in_seconds": int64(3600), "next": "periodic"}
	case 1:
		return EventConfigApplied, map[string]any{"source": "api", "changed": []string{"Station_Name"}, "access_changed": []string{},
			"unknown": []string{"Foo", "Bar"}, "unknown_count": 2, "restart": true}
	case 2:
		return EventStarted, map[string]any{"op": "resync", "reason": "periodic", "prvst": 1, "forced": false}
	}
	return EventDone, map[string]any{"op": "resync", "result": "success"}
}

// heapInUse returns the bytes of live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The history holds what its bound says, measured: the heap a full bus holds is within its
// bound (the accounted size is encoded JSON plus eventOverhead each), and never grows with
// the number of events published (issue 9 item 1).
func TestBusMemoryIsBounded(t *testing.T) {
	const bound = 256 << 10
	// The heap is the process's: other goroutines of the package (a test's peer, a late
	// timer) allocate and free beside this one. The bus is filled until three readings were
	// taken (at most ten times) and the smallest kept; a reading below zero (their heap freed
	// between the two reads) is not one.
	var b *Bus
	held := int64(-1)
	for readings, tries := 0, 0; readings < 3 && tries < 10; tries++ {
		before := heapInUse()
		fb := NewBus(bound)
		for i := range 4000 {
			kind, data := typicalEvent(i)
			fb.Publish(kind, time.Now(), data)
		}
		if h := int64(heapInUse()) - int64(before); h >= 0 {
			readings++
			if held < 0 || h < held {
				held = h
			}
		}
		runtime.KeepAlive(fb)
		b = fb
	}
	if held < 0 {
		t.Fatal("the heap shrank in ten readings of ten: other goroutines freed more than a full bus keeps")
	}
	accounted, count := b.KeptBytes()
	t.Logf("bus keeps %d events, %d accounted bytes, %d bytes of heap", count, accounted, held)
	if accounted > bound {
		t.Errorf("accounted %d bytes, bound %d", accounted, bound)
	}
	if held > bound*5/4 {
		t.Errorf("a full bus holds %d bytes of heap, want at most 1.25 times its bound of %d", held, bound)
	}
	var encoded int
	for _, e := range b.Since(0) {
		data, _ := json.Marshal(e)
		encoded += len(data)
	}
	if encoded > bound {
		t.Errorf("a replay from 0 streams %d bytes of JSON, bound %d", encoded, bound)
	}
	runtime.KeepAlive(b)
}

// An event too large for the history is kept and sent clipped: its small scalar fields,
// truncated and its size.
func TestBusClipsLargeEvents(t *testing.T) {
	b := NewBus(64 << 10)
	events := b.Subscribe(t.Context(), 0)
	huge := make([]string, 10000)
	for i := range huge {
		huge[i] = fmt.Sprintf("Unknown_Name_%d", i)
	}
	e := b.Publish(EventConfigRejected, time.Now(), map[string]any{"source": "api", "error": strings.Repeat("x", 40000), "names": huge, "n": 3})
	if e.Data["truncated"] != true || e.Data["source"] != "api" || e.Data["n"] != 3 || e.Data["names"] != nil || e.Data["error"] != nil {
		t.Fatalf("clipped event: %v", e.Data)
	}
	if n, _ := e.Data["bytes"].(int); n < 40000 {
		t.Fatalf("clipped event bytes = %v", e.Data["bytes"])
	}
	if got := <-events; got.Seq != e.Seq || got.Data["truncated"] != true {
		t.Fatalf("subscriber got %v", got)
	}
	if size := EventSize(e); size > b.MaxBytes()/4 {
		t.Fatalf("clipped event weighs %d bytes", size)
	}
}

// Whatever is published, the history stays within both bounds and in order; a replay from any
// point returns the kept suffix.
func TestBusBounds(t *testing.T) {
	b := NewBus(32 << 10)
	for i := range 3000 {
		b.Publish("k", time.Time{}, map[string]any{"pad": strings.Repeat("p", i%700)})
		bytes, count := b.KeptBytes()
		if bytes > b.MaxBytes() || count > busMaxEvents || count == 0 {
			t.Fatalf("after %d events: keeps %d events of %d bytes", i+1, count, bytes)
		}
	}
	all := b.Since(0)
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("history not contiguous at %d: %d after %d", i, all[i].Seq, all[i-1].Seq)
		}
	}
	if all[len(all)-1].Seq != 3000 {
		t.Fatalf("newest kept %d, want 3000", all[len(all)-1].Seq)
	}
	mid := all[len(all)/2].Seq
	if got := b.Since(mid); len(got) != len(all)-len(all)/2-1 || got[0].Seq != mid+1 {
		t.Fatalf("Since(%d): %d events from %d", mid, len(got), got[0].Seq)
	}
	if got := b.SinceN(0, 10); len(got) != 10 || got[0].Seq != all[0].Seq {
		t.Fatalf("SinceN(0, 10): %d events", len(got))
	}
}

// A subscriber that does not read is cut off once it is behind by the size bound, long
// before its 256 events: what it pins is bounded by bytes too.
func TestBusCutsOffSubscriberBehindByBytes(t *testing.T) {
	b := NewBus(64 << 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := b.Subscribe(ctx, 0)
	pad := strings.Repeat("p", 4000)
	n := 0
	for ; n < subscriberQueue; n++ {
		b.Publish("k", time.Time{}, map[string]any{"pad": pad})
		if b.subscribers() == 0 {
			break
		}
	}
	if n >= 20 {
		t.Fatalf("cut off after %d events of 4 KB, want within the 64 KB bound", n)
	}
	got := 0
	for range events {
		got++
	}
	if got > 16 {
		t.Fatalf("the cut-off subscriber still received %d events", got)
	}
}

// TestBusRingHoldsNoDeadSlots: as the bound keeps the newest events of changing sizes, the
// history's array stays within a small factor of what it holds, and every read (Since,
// SinceN, a replay) gives the kept events in order.
func TestBusRingHoldsNoDeadSlots(t *testing.T) {
	b := NewBus(minEventHistoryBytes)
	for i := range 5000 {
		// Runs of small and large events: the count kept swings by about ten.
		pad := strings.Repeat("x", 10+(i/100%2)*1000)
		b.Publish("k", time.Time{}, map[string]any{"pad": pad})
		b.mu.Lock()
		n, size := b.kept.len(), len(b.kept.buf)
		b.mu.Unlock()
		if size > 16 && size > 4*n {
			t.Fatalf("after %d events: an array of %d for %d events", i+1, size, n)
		}
		if i%97 == 0 {
			all := b.Since(0)
			if len(all) != n || all[len(all)-1].Seq != uint64(i+1) {
				t.Fatalf("after %d events: Since(0) gives %d events up to %d, the ring holds %d", i+1, len(all), all[len(all)-1].Seq, n)
			}
			for j := 1; j < len(all); j++ {
				if all[j].Seq != all[j-1].Seq+1 {
					t.Fatalf("after %d events: %d follows %d", i+1, all[j].Seq, all[j-1].Seq)
				}
			}
			if page := b.SinceN(all[0].Seq, 3); len(page) != min(3, n-1) || (len(page) > 0 && page[0].Seq != all[1].Seq) {
				t.Fatalf("SinceN(%d, 3): %d events", all[0].Seq, len(page))
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	last := b.LastSeq()
	replay := b.Subscribe(ctx, last-2)
	for want := last - 1; want <= last; want++ {
		if e := <-replay; e.Seq != want {
			t.Fatalf("replay: event %d, want %d", e.Seq, want)
		}
	}
}

// The history gives back the Data that was published, every value of its own Go type (an
// int stays an int, a nil list nil, an empty one empty), whether the event was packed or,
// with a value of a type the packing does not know, kept as its map; and a replay sends it
// as the live stream did.
func TestBusHistoryKeepsData(t *testing.T) {
	b := NewBus(64 << 10)
	type point struct{ X, Y int }
	published := []map[string]any{
		{"s": "x<&>\u2028\xff", "empty": "", "t": true, "f": false, "nil": nil, "i": -1 << 40, "i64": int64(3600),
			"i32": int32(-7), "u64": uint64(1<<64 - 1), "u32": uint32(1 << 31), "fl": 0.25,
			"list": []string{"GPP_A", "", "Station_Name"}, "none": []string(nil), "zero": []string{},
			"skipped": []config.Skipped{{Name: "Time_Zone", Value: "GMT+25:00", Reason: "want one of …", Line: 12}, {Name: "Password_1_", Reason: "secret"}},
			"noskip":  []config.Skipped{}, "nilskip": []config.Skipped(nil)},
		{},
		{"point": point{1, 2}, "n": 3}, // kept as its map
		{"op": "resync", "result": "success"},
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := b.Publish("first", time.Now(), nil) // a replay is of the events after one seen
	live := b.Subscribe(ctx, 0)
	var sent []Event
	for i, d := range published {
		sent = append(sent, b.Publish("k"+strconv.Itoa(i), time.Unix(1700000000, int64(i)), d))
	}
	kept := b.Since(first.Seq)
	if len(kept) != len(published) {
		t.Fatalf("kept %d events, want %d", len(kept), len(published))
	}
	replay := b.Subscribe(ctx, first.Seq) // the kept events are queued on it at once
	for i, e := range kept {
		if e.Seq != sent[i].Seq || e.Kind != sent[i].Kind || !e.Time.Equal(sent[i].Time) {
			t.Errorf("event %d: kept %d %s %v, published %d %s %v", i, e.Seq, e.Kind, e.Time, sent[i].Seq, sent[i].Kind, sent[i].Time)
		}
		if !reflect.DeepEqual(e.Data, published[i]) {
			t.Errorf("event %d: kept Data %#v, published %#v", i, e.Data, published[i])
		}
		want, _ := (<-live).JSON()
		for _, got := range []Event{e, <-replay} {
			if j, _ := got.JSON(); string(j) != string(want) {
				t.Errorf("event %d: kept encodes as %s, the live stream sent %s", i, j, want)
			}
		}
	}
	if n := EventSize(sent[2]); n < 2*len(mustJSON(t, sent[2])) {
		t.Errorf("an event kept as its map counts %d bytes, want at least twice its encoding", n)
	}
}

func mustJSON(t *testing.T, e Event) []byte {
	t.Helper()
	j, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// Unpacking a packing cut short gives the fields read before the cut, and never panics.
func TestUnpackCutShort(t *testing.T) {
	full, ok := packData(nil, map[string]any{"a": "xyz", "l": []string{"p", "q"}, "s": []config.Skipped{{Name: "N"}}, "f": 1.5})
	if !ok {
		t.Fatal("not packed")
	}
	for i := range full {
		if got := unpackData(full[:i]); len(got) > 4 {
			t.Fatalf("%d bytes: %v", i, got)
		}
	}
	if got := unpackData(full); len(got) != 4 {
		t.Fatalf("whole: %v", got)
	}
}

// TestBusWatch checks Watch: the watcher sees every event published after it, in order, as
// published, kept or not, and none once stopped.
func TestBusWatch(t *testing.T) {
	b := NewBus(minEventHistoryBytes)
	at := time.Unix(1700000000, 0)
	b.Publish(EventBoot, at, map[string]any{"boot_count": 1}) // before the watch: not seen
	var seen []Event
	stop := b.Watch(func(e Event) { seen = append(seen, e) }) // Publish runs here: no lock needed
	big := strings.Repeat("x", minEventHistoryBytes)          // clipped, kept as such
	b.Publish(EventResyncRequest, at, map[string]any{"url": "http://a/b"})
	b.Publish(EventConfigRejected, at, map[string]any{"error": big})
	b.Publish(EventShutdown, at, map[string]any{"reason": "reboot"})
	stop()
	b.Publish(EventBoot, at, map[string]any{"boot_count": 2})
	var got []string
	for _, e := range seen {
		got = append(got, fmt.Sprintf("%d %s", e.Seq, e.Kind))
	}
	want := []string{"2 resync_request", "3 config_rejected", "4 shutdown"}
	if !slices.Equal(got, want) {
		t.Fatalf("watched %q, want %q", got, want)
	}
	if seen[0].Data["url"] != "http://a/b" || seen[2].Data["reason"] != "reboot" {
		t.Errorf("data %v, %v", seen[0].Data, seen[2].Data)
	}
	if seen[1].Data["truncated"] != true {
		t.Errorf("a clipped event is watched as kept: %v", seen[1].Data)
	}
}

// A steadily resyncing phone publishes the same events again at every resync (started,
// resync_request, resync_result, done: only their numbers and times differ), and its bus
// keeps one body for each of them rather than a copy per event: the Data is packed in the
// order of its keys, whatever order its map gives them in. Every kept event still reads
// back as it was published: its number, its instant, its kind and its Data.
func TestBusSharesTheBodiesOfRepeatedEvents(t *testing.T) {
	b := NewBus(minEventHistoryBytes)
	resync := func(i int) []Event {
		return []Event{
			{Kind: EventStarted, Data: map[string]any{"op": "resync", "reason": "periodic", "prvst": 1, "forced": false}},
			{Kind: EventResyncRequest, Data: map[string]any{"url": "http://prov.example/spa000e08000001.xml", "prvst": 1}},
			{Kind: EventResyncResult, Data: map[string]any{"result": "success", "url": "http://prov.example/spa000e08000001.xml",
				"err": "", "changed": []string{}, "prvst": 1, "warnings": []string{}, "next_in_seconds": int64(60), "next": "periodic"}},
			{Kind: EventDone, Data: map[string]any{"op": "resync", "result": "success"}},
			{Kind: EventRegistration, Data: map[string]any{"ext": 1, "state": "registered", "code": 200, "attempt": i}}, // new at each
		}
	}
	var published []Event
	at := time.Unix(1_700_000_000, 0)
	for i := range 200 {
		for _, e := range resync(i) {
			at = at.Add(1234567 * time.Nanosecond)
			published = append(published, b.Publish(e.Kind, at, e.Data))
		}
	}
	b.mu.Lock()
	bodies := map[*byte]bool{}
	for i := range b.kept.len() {
		bodies[&b.kept.at(i).body[0]] = true
	}
	n := b.kept.len()
	b.mu.Unlock()
	// Each kept resync shares the 4 bodies of the repeated events; each registration is its own.
	if want := 4 + n/5 + 1; len(bodies) > want {
		t.Errorf("%d events kept in %d bodies, want at most %d", n, len(bodies), want)
	}
	kept := b.Since(0)
	if len(kept) != n || n < 20 {
		t.Fatalf("Since(0) gave %d events, the bus keeps %d", len(kept), n)
	}
	for i, got := range kept {
		want := published[len(published)-n+i]
		if got.Seq != want.Seq || !got.Time.Equal(want.Time) || got.Kind != want.Kind || !reflect.DeepEqual(got.Data, want.Data) {
			t.Fatalf("kept event %d: %+v, published %+v", i, got, want)
		}
	}
	for _, after := range []uint64{0, 1, kept[0].Seq - 1, kept[0].Seq, kept[n/2].Seq, kept[n-1].Seq, kept[n-1].Seq + 5} {
		page := b.SinceN(after, 7)
		for j, e := range page {
			if e.Seq <= after || (j > 0 && e.Seq != page[j-1].Seq+1) {
				t.Fatalf("SinceN(%d, 7): %d-th event numbered %d", after, j, e.Seq)
			}
		}
		if after < kept[n-1].Seq && (len(page) == 0 || page[0].Seq != max(after+1, kept[0].Seq)) {
			t.Fatalf("SinceN(%d, 7) starts at %v", after, page)
		}
	}
}

// An event whose Data does not pack (a value of a type packData does not know) is kept as
// its map beside the ring, by its number: a replay gives that map back, among packed events
// before and after it, and the map goes when the event leaves the history.
func TestBusKeepsUnpackedDataByNumber(t *testing.T) {
	b := NewBus(minEventHistoryBytes)
	type point struct{ X, Y int }
	var published []Event
	for i := range 400 {
		data := map[string]any{"i": i, "op": "resync"}
		if i%7 == 3 {
			data["where"] = point{i, -i} // not packed
		}
		published = append(published, b.Publish("k", time.Unix(int64(i), 0), data))
		b.mu.Lock()
		n, maps := b.kept.len(), len(b.maps)
		var stale bool
		for seq := range b.maps {
			stale = stale || seq < b.kept.seq0
		}
		b.mu.Unlock()
		if stale || maps > n/7+1 {
			t.Fatalf("after %d events: %d kept, %d maps held (one of an event no longer kept: %v)", i+1, n, maps, stale)
		}
	}
	kept := b.Since(0)
	for j, got := range kept {
		want := published[len(published)-len(kept)+j]
		if got.Seq != want.Seq || !reflect.DeepEqual(got.Data, want.Data) {
			t.Fatalf("kept event %d: %+v, published %+v", j, got, want)
		}
		if _, ok := want.Data["where"]; ok && !reflect.DeepEqual(got.Data["where"], want.Data["where"]) {
			t.Fatalf("event %d: its unpacked value came back as %v", got.Seq, got.Data["where"])
		}
	}
	for range 200 { // packed events push the last map out
		b.Publish("k", time.Unix(0, 0), map[string]any{"op": "resync"})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.maps != nil {
		t.Fatalf("no map-kept event is in the history, but the bus holds %d", len(b.maps))
	}
}
