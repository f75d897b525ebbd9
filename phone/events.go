package phone

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// Event kinds on the event stream. Each event carries fields of its own in Data.
const (
	EventBoot           = "boot"            // the phone booted: boot_count, software
	EventStarted        = "started"         // a gated operation started: op, reason
	EventDone           = "done"            // an operation finished: op, result, error
	EventDeferred       = "deferred"        // an operation waits for idle: op, reason
	EventConfigApplied  = "config_applied"  // configuration changed: source, changed, access_changed, unknown (the first 20), unknown_count
	EventConfigRejected = "config_rejected" // configuration refused: source, error
	EventHook           = "hook"            // handset: offhook
	EventResyncRequest  = "resync_request"  // a resync started fetching: url, prvst
	EventResyncResult   = "resync_result"   // a resync ended: result, err, changed, next_in
	EventUpgradeRequest = "upgrade_request" // an upgrade started downloading: url
	EventUpgradeResult  = "upgrade_result"  // an upgrade ended: result, err, version
	EventReport         = "report"          // a report was sent: url, result
	EventRegistration   = "registration"    // a registration attempt ended: ext, state, code, error, expires_seconds, next_in_seconds
	EventNotify         = "sip_notify"      // a control NOTIFY was taken: ext, event, action, alias, code
	EventExtension      = "extension"       // an extension's socket could not be opened, or opened after it could not: ext, in_service, addr, error, attempt, next_in_seconds
	EventMWI            = "mwi"             // message waiting changed: ext, waiting, new, old
	EventSubscription   = "subscription"    // a subscription changed: ext, event, state, target, code, error, expires_seconds, next_in_seconds
	EventCall           = "call"            // a call changed: call, ext, appearance, direction, peer, state, from_state, reason, code, remote_hold
	EventDTMF           = "dtmf"            // a digit arrived in a call: call, digit, duration_ms, method
	EventFeature        = "feature"         // a vertical service code was acted on: ext, keys, code, name, number, changed, tone, call
	EventShutdown       = "shutdown"        // the phone stops: reason
)

// Event is one thing the phone did, as the event stream and tests see it. Its Data must not
// change after Publish. A bus keeps events as their Data packed (event_pack.go), not as
// their encoding nor as the map: a phone of a fleet keeps its history in a third of the
// memory, and an event is encoded (a microsecond or two, appendEventJSON) by the streams
// that send it, when someone watches.
type Event struct {
	Seq  uint64
	Time time.Time
	Kind string
	Data map[string]any
}

// MarshalJSON writes the event as one object: "seq", "time", "kind" and the Data fields.
func (e Event) MarshalJSON() ([]byte, error) { return e.encode() }

// JSON returns the event encoded as [Event.MarshalJSON] does.
func (e Event) JSON() ([]byte, error) { return e.MarshalJSON() }

// AppendJSON appends the event's encoding to dst: for a stream that sends many, into a buffer
// of its own.
func (e Event) AppendJSON(dst []byte) ([]byte, error) { return appendEventJSON(dst, e) }

func (e Event) encode() ([]byte, error) {
	var arr [512]byte // most events fit: one allocation, of the encoding's own size
	b, err := appendEventJSON(arr[:0], e)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// encodedLen is the length of e's encoding: counted (eventJSONLen) when its values allow,
// else made in a buffer of the caller's.
func (e Event) encodedLen(scratch []byte) (int, error) {
	if n, ok := eventJSONLen(e); ok {
		return n, nil
	}
	b, err := appendEventJSON(scratch[:0], e)
	return len(b), err
}

// Limits of a bus. A fleet keeps one bus per phone, ten thousand in a process: what a bus
// keeps is bounded by bytes as well as by count, so that no event source (a provisioning
// server that sends profiles full of unknown names, a web client that posts them) can grow
// it, and a replay never streams more than the bound.
const (
	// DefaultEventHistoryBytes is what a bus keeps of its newest events unless
	// [Options.EventHistoryBytes] says otherwise: a few hundred typical events, the last
	// minutes of a busy phone, a small part of an idle phone's budget.
	DefaultEventHistoryBytes = 256 << 10
	// minEventHistoryBytes is the least a bus keeps, whatever it is told.
	minEventHistoryBytes = 16 << 10
	// maxEventSize is the most an event may weigh (EventSize) unclipped, however large the
	// bound: a quarter of it, but no more than 1 GiB.
	maxEventSize = 1 << 30
	// busMaxEvents bounds the count of events kept, however small they are.
	busMaxEvents = 4096
	// subscriberQueue is how many events a subscriber may fall behind by before it is cut
	// off (it is also cut off when those events weigh more than the history bound).
	subscriberQueue = 256
	// packedOverhead is added to the length of the encoding of every event the bus keeps
	// packed (EventSize): what it costs in memory beyond its packed fields (its slot in the
	// ring, whose array is up to twice what it holds, and the packing's allocation), so that
	// the bound is at least the heap a full bus holds and at least what a replay of all of it
	// streams. Measured by TestBusMemoryIsBounded.
	packedOverhead = 112
	// eventOverhead is added to twice the length of the encoding of an event kept as its map
	// (a field of a type the packing does not know): the Event value, its map's groups, the
	// slices of its list fields.
	eventOverhead = 448
)

// Bus fans events out to subscribers and keeps the most recent ones, so that a subscriber
// that reconnects (after a reboot, say) can catch up from the last sequence number it saw.
//
// What it keeps is bounded twice: by count (4096) and by size, as [EventSize] counts it
// ([DefaultEventHistoryBytes] unless told otherwise); the oldest go first. An event larger than a quarter of the size bound is kept and sent clipped: its
// scalar fields, "truncated": true and its "bytes". A subscriber that falls behind by more
// than 256 events, or by more than the size bound, is cut off; it reconnects and replays from
// what is kept.
type Bus struct {
	// Immutable after NewBus.
	maxBytes int // bound of kept, in accounted bytes
	maxEvent int // an event above this is clipped

	mu       sync.Mutex
	seq      uint64
	kept     eventRing // guarded by mu
	bytes    int       // accounted size of what kept holds
	subs     map[*subscriber]struct{}
	watchers map[*watcher]struct{} // guarded by mu; nil until the first Watch
	// maps holds the Data of the kept events whose Data did not pack, by number; nil when
	// there are none. Guarded by mu.
	maps map[uint64]map[string]any
}

// watcher is one Watch call.
type watcher struct{ fn func(Event) }

// eventRing is a bus's history: a ring of kept events, oldest first from head, whose array
// is a power of two a little above what it holds (it doubles when full and halves when a
// quarter full), so that a phone of a fleet keeps no dead slots (a slice compacted now and
// then held twice its events and more: 12 KB a phone of 3,000, 35 MB).
type eventRing struct {
	buf  []keptEvent // len is 0 or a power of two
	head int
	n    int
	// seq0 is the sequence number of the oldest event: the bus keeps every event it
	// publishes, in order, so the kept ones' numbers follow each other (the i-th from the
	// oldest is seq0+i) and a slot need not hold its own.
	seq0 uint64
}

func (r *eventRing) len() int { return r.n }

// at returns the i-th event from the oldest.
func (r *eventRing) at(i int) *keptEvent { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// push appends k, the event numbered seq: the one after the newest kept.
func (r *eventRing) push(k keptEvent, seq uint64) {
	if r.n == 0 {
		r.seq0 = seq
	}
	if r.n == len(r.buf) {
		r.resize(max(8, 2*len(r.buf)))
	}
	*r.at(r.n) = k
	r.n++
}

// pop drops the oldest event and returns its size.
func (r *eventRing) pop() int {
	k := r.at(0)
	size := int(k.size)
	*k = keptEvent{} // let the event go
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	r.seq0++
	if len(r.buf) > 16 && r.n <= len(r.buf)/4 {
		r.resize(len(r.buf) / 2)
	}
	return size
}

func (r *eventRing) resize(size int) {
	buf := make([]keptEvent, size)
	for i := range r.n {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}

// since returns a copy of the events with a sequence number above after, oldest first, at
// most n of them (all when n is 0), and the sequence number of the first.
func (r *eventRing) since(after uint64, n int) ([]keptEvent, uint64) {
	i := r.n
	if after < r.seq0 {
		i = 0
	} else if d := after - r.seq0 + 1; d < uint64(r.n) {
		i = int(d)
	}
	count := r.n - i
	if n > 0 {
		count = min(count, n)
	}
	out := make([]keptEvent, count)
	for j := range out {
		out[j] = *r.at(i + j)
	}
	return out, r.seq0 + uint64(i)
}

// sameBody returns the body of one of the newest kept events (up to sameBodyWindow) that
// is body, to keep instead of a copy; nil when none is.
func (r *eventRing) sameBody(body []byte) []byte {
	for i := r.n - 1; i >= max(0, r.n-sameBodyWindow); i-- {
		if k := r.at(i); bytes.Equal(k.body, body) {
			return k.body
		}
	}
	return nil
}

// sameBodyWindow is how many of the newest kept events a new one's body is looked for
// among: a resyncing phone publishes the same four events at each resync (started,
// resync_request, resync_result, done), so the window covers the last few resyncs.
const sameBodyWindow = 16

// keptEvent is an event as the bus keeps it: its time (wall clock: seconds and nanoseconds
// since the Unix epoch), one byte slice (body) holding its kind and its Data packed
// (packData), or only that its Data is kept as its map (in Bus.maps, by its number: a value
// packData does not pack, rare); and its accounted size. Its sequence number is its place in
// the ring (eventRing.seq0). A body is never changed once
// kept, so an event whose body is the same as one of the newest kept shares that one's
// (sameBody): a resyncing phone's events are mostly those of its last resync again, and
// their copies were 18 MB of the live heap of 3,000 resyncing phones. A slot of the ring is
// 40 bytes.
type keptEvent struct {
	body []byte
	sec  int64
	nsec int32
	size int32 // at most maxEventSize
}

// event returns the kept event numbered seq, its Data unpacked (or data, when it is kept as
// its map). Its Time is the published one's instant (Equal to it), in the local zone,
// without a monotonic reading.
func (k *keptEvent) event(seq uint64, data map[string]any) Event {
	r := unpacker{b: k.body}
	e := Event{Seq: seq, Time: time.Unix(k.sec, int64(k.nsec))}
	e.Kind = r.string()
	switch r.byte() {
	case recPacked:
		e.Data = unpackData(r.b)
	case recMap:
		e.Data = data
	}
	return e
}

// What follows a rec's kind: the packed Data, nothing (Data nil), nothing (Data kept as its
// map).
const (
	recPacked byte = iota
	recNil
	recMap
)

// subscriber is one Subscribe call: its channel, and the running total of the sizes of the
// events sent on it, so that the bytes still queued are known without reading the channel.
type subscriber struct {
	ch     chan Event
	sent   int     // events sent on ch
	cum    []int64 // cum[k % len] is the total size of the first k events sent
	closed bool
}

// queuedBytes is the accounted size of the events sent and not yet received.
func (s *subscriber) queuedBytes() int64 {
	n := len(s.cum)
	return s.cum[s.sent%n] - s.cum[(s.sent-len(s.ch))%n]
}

// push sends e of the given size without blocking; false when the queue is full.
func (s *subscriber) push(e Event, size int, maxBytes int) bool {
	if len(s.ch) == cap(s.ch) || s.queuedBytes()+int64(size) > int64(maxBytes) && len(s.ch) > 0 {
		return false
	}
	n := len(s.cum)
	s.cum[(s.sent+1)%n] = s.cum[s.sent%n] + int64(size)
	s.sent++
	s.ch <- e
	return true
}

// NewBus returns an empty bus that keeps up to maxBytes of events (0: the default). Its
// history grows as events come: an idle phone of a large fleet keeps little.
func NewBus(maxBytes int) *Bus {
	if maxBytes <= 0 {
		maxBytes = DefaultEventHistoryBytes
	}
	maxBytes = max(maxBytes, minEventHistoryBytes)
	return &Bus{maxBytes: maxBytes, maxEvent: min(maxBytes/4, maxEventSize), subs: map[*subscriber]struct{}{}}
}

// MaxBytes returns the size bound of what the bus keeps (see [Bus]).
func (b *Bus) MaxBytes() int { return b.maxBytes }

// EventSize is the size an event counts for in a bus's bounds: the length of its encoding
// plus a fixed overhead when its Data packs (every kind a phone publishes), or twice that
// length plus a larger overhead when it is kept as its map (the map, its boxed values,
// weighs up to that). Either way at least the memory it holds and the bytes a replay of it
// streams.
func EventSize(e Event) int {
	var scratch [512]byte
	n, err := e.encodedLen(scratch[:])
	if err != nil {
		return eventOverhead
	}
	return eventSize(n, packs(e.Data))
}

// eventSize is the accounted size of an event whose encoding has n bytes.
func eventSize(n int, packed bool) int {
	if packed {
		return n + packedOverhead
	}
	return 2*n + eventOverhead
}

// Publish stamps, sizes and distributes an event: its encoding's length is counted (or the
// encoding made, in a buffer on the stack, and dropped, for values it cannot count) to weigh
// it and to be sure every stream can send it, and its Data is packed for the history.
func (b *Bus) Publish(kind string, at time.Time, data map[string]any) Event {
	var scratch [1024]byte
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e := Event{Seq: b.seq, Time: at, Kind: kind, Data: data}
	n, err := e.encodedLen(scratch[:])
	if err == nil && eventSize(n, packs(e.Data)) > b.maxEvent {
		e.Data = clipped(data, n)
		if m, err := e.encodedLen(scratch[:]); err == nil && eventSize(m, packs(e.Data)) > b.maxEvent {
			e.Data = map[string]any{"truncated": true, "bytes": n} // its small fields are too many
		}
		n, err = e.encodedLen(scratch[:])
	}
	if err != nil { // a value JSON cannot carry: say so rather than lose the event
		e.Data = map[string]any{"error": "event not encodable: " + err.Error()}
		n, _ = e.encodedLen(scratch[:])
	}
	body := packString1(scratch[:0], e.Kind)
	ok := true
	k := keptEvent{sec: at.Unix(), nsec: int32(at.Nanosecond())}
	switch {
	case e.Data == nil:
		body = append(body, recNil)
	default:
		if body, ok = packData(append(body, recPacked), e.Data); !ok {
			body = append(packString1(scratch[:0], e.Kind), recMap)
			if b.maps == nil {
				b.maps = map[uint64]map[string]any{}
			}
			b.maps[b.seq] = e.Data
		}
	}
	if k.body = b.kept.sameBody(body); k.body == nil {
		k.body = bytes.Clone(body)
	}
	size := eventSize(n, ok)
	k.size = int32(size) // within maxEvent
	b.keep(k)
	for s := range b.subs {
		if !s.push(e, size, b.maxBytes) { // too slow: cut off; it reconnects and replays
			b.dropLocked(s)
		}
	}
	for w := range b.watchers {
		w.fn(e)
	}
	return e
}

// Watch calls fn with every event published from now on, as Publish makes it, until stop is
// called: for a watcher that would otherwise keep a goroutine waiting on a subscription for
// the few events it acts on (a phone's web server waits for boots and shutdowns; a fleet
// has one per phone). fn runs inside Publish, in the publisher's goroutine, under the bus's
// lock: it must neither wait nor call the bus, nor change e's Data. Events reach fn in the
// order of their sequence numbers; none after stop has returned.
func (b *Bus) Watch(fn func(Event)) (stop func()) {
	w := &watcher{fn: fn}
	b.mu.Lock()
	if b.watchers == nil {
		b.watchers = map[*watcher]struct{}{}
	}
	b.watchers[w] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.watchers, w)
	}
}

// keep appends k to the history and drops the oldest events beyond the bounds.
func (b *Bus) keep(k keptEvent) {
	b.kept.push(k, b.seq)
	b.bytes += int(k.size)
	for b.kept.len() > 1 && (b.bytes > b.maxBytes || b.kept.len() > busMaxEvents) {
		seq := b.kept.seq0
		b.bytes -= b.kept.pop()
		if b.maps != nil {
			delete(b.maps, seq)
			if len(b.maps) == 0 {
				b.maps = nil // a map that grew keeps its size: let it go
			}
		}
	}
}

// clipped is what is kept of an event too large to keep whole: its small scalar fields, and
// that it was truncated from size bytes.
func clipped(data map[string]any, size int) map[string]any {
	out := map[string]any{"truncated": true, "bytes": size}
	for k, v := range data {
		switch v := v.(type) {
		case bool, int, int64, uint64, float64:
			out[k] = v
		case string:
			if len(v) <= 256 {
				out[k] = v
			}
		}
	}
	return out
}

func (b *Bus) dropLocked(s *subscriber) {
	if !s.closed {
		s.closed = true
		delete(b.subs, s)
		close(s.ch)
	}
}

// Subscribe returns a channel of events: first the kept ones with a sequence number above
// after (none when after is 0), then every new one, until ctx ends or the subscriber falls
// behind; the channel is closed then.
func (b *Bus) Subscribe(ctx context.Context, after uint64) <-chan Event {
	return b.SubscribeQueue(ctx, after, subscriberQueue)
}

// SubscribeQueue is [Bus.Subscribe] with a queue of queue events (at least 1) instead of 256:
// for a subscriber that keeps up, or catches up from the history when it is cut off, and
// should not hold 16 KB of queue per phone of a fleet (a web server waiting for boots).
func (b *Bus) SubscribeQueue(ctx context.Context, after uint64, queue int) <-chan Event {
	b.mu.Lock()
	var replay []keptEvent
	var first uint64
	if after > 0 {
		replay, first = b.kept.since(after, 0)
	}
	s := &subscriber{ch: make(chan Event, max(queue, 1)+len(replay))}
	s.cum = make([]int64, cap(s.ch)+1)
	for i := range replay {
		s.push(replay[i].event(first+uint64(i), b.maps[first+uint64(i)]), int(replay[i].size), b.maxBytes) // the history is within the bound: it all fits
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.dropLocked(s)
	})
	return s.ch
}

// Since returns the kept events with a sequence number above after, oldest first.
func (b *Bus) Since(after uint64) []Event {
	return b.SinceN(after, 0)
}

// SinceN returns up to n of the kept events with a sequence number above after, oldest
// first (all of them when n is 0): a replay read a page at a time holds little.
func (b *Bus) SinceN(after uint64, n int) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept, first := b.kept.since(after, n)
	out := make([]Event, len(kept))
	for i := range kept {
		out[i] = kept[i].event(first+uint64(i), b.maps[first+uint64(i)])
	}
	return out
}

// LastSeq returns the sequence number of the newest event.
func (b *Bus) LastSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// KeptBytes returns the accounted size and the count of the events the bus keeps.
func (b *Bus) KeptBytes() (bytes, count int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes, b.kept.len()
}

// subscribers returns the count of subscribers.
func (b *Bus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
