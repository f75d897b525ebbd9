package phone

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Event kinds on the event stream. Each event carries fields of its own in Data.
const (
	EventBoot           = "boot"            // the phone booted: boot_count, software
	EventStarted        = "started"         // a gated operation started: op, reason
	EventDone           = "done"            // an operation finished: op, result, error
	EventDeferred       = "deferred"        // an operation waits for idle: op, reason
	EventConfigApplied  = "config_applied"  // configuration changed: source, changed, access_changed, unknown
	EventConfigRejected = "config_rejected" // configuration refused: source, error
	EventHook           = "hook"            // handset: offhook
	EventResyncRequest  = "resync_request"  // a resync started fetching: url, prvst
	EventResyncResult   = "resync_result"   // a resync ended: result, err, changed, next_in
	EventUpgradeRequest = "upgrade_request" // an upgrade started downloading: url
	EventUpgradeResult  = "upgrade_result"  // an upgrade ended: result, err, version
	EventReport         = "report"          // a report was sent: url, result
	EventRegistration   = "registration"    // an extension's registration changed
	EventShutdown       = "shutdown"        // the phone stops: reason
)

// Event is one thing the phone did, as the event stream and tests see it.
type Event struct {
	Seq  uint64
	Time time.Time
	Kind string
	Data map[string]any
}

// MarshalJSON writes the event as one object: "seq", "time", "kind" and the Data fields.
func (e Event) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Data)+3)
	for k, v := range e.Data {
		m[k] = v
	}
	m["seq"] = e.Seq
	m["time"] = e.Time.UTC().Format(time.RFC3339Nano)
	m["kind"] = e.Kind
	return json.Marshal(m)
}

// Bus fans events out to subscribers and keeps the most recent ones, so that a subscriber
// that reconnects (after a reboot, say) can catch up from the last sequence number it saw.
// A subscriber that falls behind by more than its buffer is cut off; it reconnects and
// replays from the ring.
type Bus struct {
	mu   sync.Mutex
	seq  uint64
	ring []Event
	next int
	full bool
	subs map[chan Event]struct{}
}

const busRing = 4096

// NewBus returns an empty bus. Its ring grows as events come, up to busRing: an idle phone
// of a large fleet keeps little.
func NewBus() *Bus {
	return &Bus{subs: map[chan Event]struct{}{}}
}

// Publish stamps and distributes an event.
func (b *Bus) Publish(kind string, at time.Time, data map[string]any) Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e := Event{Seq: b.seq, Time: at, Kind: kind, Data: data}
	if len(b.ring) < busRing {
		b.ring = append(b.ring, e)
	} else {
		b.ring[b.next] = e
		b.next = (b.next + 1) % len(b.ring)
		b.full = true
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default: // too slow: cut off; it reconnects and replays
			delete(b.subs, ch)
			close(ch)
		}
	}
	return e
}

// Subscribe returns a channel of events: first the kept ones with a sequence number above
// after (none when after is 0), then every new one, until ctx ends or the subscriber falls
// behind; the channel is closed then.
func (b *Bus) Subscribe(ctx context.Context, after uint64) <-chan Event {
	b.mu.Lock()
	var replay []Event
	if after > 0 {
		replay = b.sinceLocked(after)
	}
	ch := make(chan Event, 256+len(replay))
	for _, e := range replay {
		ch <- e
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	})
	return ch
}

// Since returns the kept events with a sequence number above after, oldest first.
func (b *Bus) Since(after uint64) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sinceLocked(after)
}

func (b *Bus) sinceLocked(after uint64) []Event {
	var out []Event
	n := len(b.ring)
	start := 0
	if b.full {
		start = b.next
	}
	for i := 0; i < n; i++ {
		e := b.ring[(start+i)%len(b.ring)]
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out
}

// LastSeq returns the sequence number of the newest event.
func (b *Bus) LastSeq() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}
