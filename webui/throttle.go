package webui

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Login throttling (issue 9 item 8: 2,000 wrong admin passwords at about 1,300/s, no delay,
// one log line each). A client address (an IPv4 address, the /64 of an IPv6 one) may get its
// credentials wrong loginFreeFailures times; after that each failure shuts it out for a time
// that doubles, from a second up to loginMaxBlock: while shut out it is answered 429 with
// Retry-After before its credentials are even checked, so that guessing gains nothing, and
// its attempts do not lengthen the wait. A success, or loginForget without failures, clears
// the address. The table keeps at most loginTableSize addresses; when full, the one whose
// last failure is oldest is forgotten. A client behind a proxy shares the proxy's address:
// the proxy is throttled as one client (no X-Forwarded-For is trusted: anyone can send it).
const (
	loginFreeFailures = 5
	loginMaxBlock     = 5 * time.Minute
	loginForget       = 15 * time.Minute
	loginTableSize    = 1024
)

// loginThrottle is the table of recent login failures by client address.
type loginThrottle struct {
	now func() time.Time

	mu sync.Mutex
	m  map[netip.Prefix]*loginFailures // guarded by mu
}

// loginFailures are the recent failures of one client address.
type loginFailures struct {
	n     int       // consecutive failures
	last  time.Time // of the latest
	until time.Time // shut out until then
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{now: time.Now} // its map is made at the first failure
}

// blocked returns how long the client is still shut out, or 0.
func (t *loginThrottle) blocked(key netip.Prefix) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[key]
	if f == nil {
		return 0
	}
	return max(f.until.Sub(t.now()), 0)
}

// failed counts a failure of the client and returns for how long it is now shut out (0 while
// it has failures left).
func (t *loginThrottle) failed(key netip.Prefix) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f := t.m[key]
	if f != nil && now.Sub(f.last) > loginForget {
		f.n = 0
	}
	if f == nil {
		if len(t.m) >= loginTableSize {
			t.evictLocked(now)
		}
		f = &loginFailures{}
		if t.m == nil {
			t.m = map[netip.Prefix]*loginFailures{}
		}
		t.m[key] = f
	}
	f.n++
	f.last = now
	if f.n <= loginFreeFailures {
		return 0
	}
	d := loginMaxBlock
	if shift := f.n - loginFreeFailures - 1; shift < 20 {
		d = min(time.Second<<shift, loginMaxBlock)
	}
	f.until = now.Add(d)
	return d
}

// succeeded forgets the client's failures.
func (t *loginThrottle) succeeded(key netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// evictLocked forgets the expired entries, or else the one whose last failure is oldest.
func (t *loginThrottle) evictLocked(now time.Time) {
	var oldest netip.Prefix
	var at time.Time
	for k, f := range t.m {
		if now.Sub(f.last) > loginForget && !now.Before(f.until) {
			delete(t.m, k)
			continue
		}
		if at.IsZero() || f.last.Before(at) {
			oldest, at = k, f.last
		}
	}
	if len(t.m) >= loginTableSize {
		delete(t.m, oldest)
	}
}

// size returns the count of addresses kept.
func (t *loginThrottle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// retryAfter is the Retry-After value of a wait: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1))
}
