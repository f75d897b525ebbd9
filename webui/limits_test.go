package webui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/phone"
)

// limitServer runs a Server for a fresh unit with opts and returns it with its address.
func limitServer(t *testing.T, opts Options, popts phone.Options) (*phone.Unit, *Server, string) {
	t.Helper()
	u := testUnit(t, popts)
	if opts.Logger == nil {
		opts.Logger = testlog.New(t)
	}
	s := NewServer(u, "127.0.0.1:0", opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return u, s, waitListening(t, s, 1)
}

// dialFrom connects to addr from the loopback address src (every 127/8 address is this host's
// on Linux), as a client with that address would.
func dialFrom(t testing.TB, src, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) })
			if err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	return c
}

// statusOn sends GET /api/v1/status on c and returns the status code of the answer, or 0 when
// the connection was closed without one.
func statusOn(t testing.TB, c net.Conn) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// slowBody starts a profile upload on c that announces 1 MiB and sends a few bytes of it.
func slowBody(c net.Conn) error {
	_, err := io.WriteString(c, "POST /api/v1/profile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"+
		"Content-Length: 1048576\r\n\r\n<flat-profile><GPP_A>")
	return err
}

// waitFor polls cond until it holds or the test's deadline nears; it returns how long it took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not waiting for it to happen
	}
	return time.Since(start)
}

// Issue 9 item 2, slow bodies: a request that announced a body and sent it slowly was never
// closed, on any URL, without credentials. Now reading a request is bounded by ReadTimeout:
// the connections are answered and closed, and their goroutines end.
func TestSlowBodiesAreCut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	// WriteTimeout stays the default: it runs from the request's start, and a 408 written a
	// second after it (a loaded machine's scheduling) was lost, the connection closed unanswered.
	_, s, addr := limitServer(t, Options{Limits: Limits{ReadTimeout: timeout}}, phone.Options{})
	var conns []net.Conn
	start := time.Now()
	for i := range 12 {
		c := dialFrom(t, "127.0.0.1", addr, 0)
		defer c.Close()
		if i%2 == 0 {
			slowBody(c)
		} else { // a form post on a device URL, without credentials
			io.WriteString(c, "POST /admin/bsipura.spa HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nGPP_A=")
		}
		conns = append(conns, c)
	}
	// On a loaded machine the first connections may be cut before the last is dialled: each
	// answer below shows that the server read its request and cut it, so the test does not
	// wait for all twelve to be held at once.
	held := goroutinesIn(serving...)
	waitFor(t, "the slow connections are closed", 10*time.Second+timeout, func() bool { n, _ := s.conns(); return n == 0 })
	closed := time.Since(start)
	codes := map[int]int{}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			codes[0]++
			continue
		}
		codes[resp.StatusCode]++
	}
	waitFor(t, "the server's goroutines end", 10*time.Second, func() bool { return goroutinesIn(serving...) == 0 })
	t.Logf("12 slow bodies: %d connection goroutines once dialled; all closed %v after the first dial (ReadTimeout %v); answers %v",
		held, closed.Round(time.Millisecond), timeout, codes)
	if codes[408]+codes[503] != len(conns) {
		t.Errorf("slow requests answered %v, want each refused cleanly: 408, or 503 while others held the upload slots", codes)
	}
}

// serving names the functions of the goroutines that serve an HTTP connection: net/http's
// conn.serve and the background reads it starts.
var serving = []string{"net/http.(*conn).serve", "net/http.(*connReader).backgroundRead"}

// goroutinesIn counts the goroutines with any of fns on their stack, from a dump of every
// goroutine's stack. (A count of all goroutines against a base moves with the phone's own
// too: its boot starts the SIP extensions' goroutines while a test runs, before or after the
// base was taken.)
func goroutinesIn(fns ...string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		for _, fn := range fns {
			if strings.Contains(g, fn) {
				count++
				break
			}
		}
	}
	return count
}

// Issue 9 item 2, connection bounds: over the bound per client address a new connection is
// refused at once with a 503 and closed, and the refusals are logged as a rate; over the bound
// of the phone, a client with fewer connections gets in and the busiest client's oldest is
// closed for it; a client as busy as the busiest is refused.
func TestConnectionBounds(t *testing.T) {
	t.Run("own listener", func(t *testing.T) { connectionBounds(t, nil) })
	// On a hub the shared listener hands each connection to the phone's server, which
	// admits it within the same bounds.
	t.Run("hub", func(t *testing.T) { connectionBounds(t, NewHub(testlog.New(t))) })
}

func connectionBounds(t *testing.T, hub *Hub) {
	core, logs := observer.New(zapcore.InfoLevel)
	_, s, addr := limitServer(t, Options{Logger: zap.New(core), Limits: Limits{MaxConns: 8, MaxConnsPerClient: 3}, Hub: hub}, phone.Options{})
	open := func(src string) (net.Conn, int) {
		c := dialFrom(t, src, addr, 0)
		t.Cleanup(func() { c.Close() })
		return c, statusOn(t, c)
	}
	var a []net.Conn
	for range 3 {
		c, code := open("127.0.0.1")
		if code != 200 {
			t.Fatalf("connection within the client bound: %d", code)
		}
		a = append(a, c)
	}
	for range 20 {
		if _, code := open("127.0.0.1"); code != 503 {
			t.Fatalf("a fourth connection of one client = %d, want 503", code)
		}
	}
	for _, src := range []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"} {
		if _, code := open(src); code != 200 {
			t.Fatalf("a connection of %s within the bounds = %d", src, code)
		}
	}
	if n, _ := s.conns(); n != 8 {
		t.Fatalf("server holds %d connections, want 8", n)
	}
	// Full. 127.0.0.3 holds 2, the busiest 3: it is refused, as swapping helps no one…
	if _, code := open("127.0.0.3"); code != 503 {
		t.Fatalf("a client one below the busiest at the phone's bound = %d, want 503", code)
	}
	// … and a new client gets in: the oldest connection of a busiest client makes room.
	if _, code := open("127.0.0.4"); code != 200 {
		t.Fatalf("a new client at the phone's bound = %d, want 200", code)
	}
	if n, most := s.conns(); n != 8 || most != 3 {
		t.Fatalf("server holds %d connections, the busiest client %d; want 8 and 3", n, most)
	}
	// 127.0.0.1 and 127.0.0.2 hold three each: the oldest of their oldest goes, a[0]. A
	// read that merely times out means it is still open.
	a[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := a[0].Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the busiest clients' oldest connection is still open (read: %v)", err)
	}
	lines := logs.FilterMessage("connection refused").Len()
	t.Logf("22 refusals and 1 eviction: %d log lines", lines)
	if lines > 2 {
		t.Errorf("%d log lines for 22 refusals, want one (a rate)", lines)
	}
}

// Issue 9 item 2, write time: an event subscriber that stops reading is dropped once its
// buffers are full and a write waits WriteTimeout; its goroutine ends. (The bus is made large
// here, so that it is the write deadline that drops the subscriber, not the bus's bound.)
func TestNonReadingSubscriberDropped(t *testing.T) {
	const timeout = 300 * time.Millisecond
	core, logs := observer.New(zapcore.InfoLevel)
	u, s, addr := limitServer(t, Options{Logger: zap.New(core), Limits: Limits{WriteTimeout: timeout}},
		phone.Options{EventHistoryBytes: 64 << 20})
	c := dialFrom(t, "127.0.0.1", addr, 4096)
	defer c.Close()
	io.WriteString(c, "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	waitFor(t, "the stream is open", 10*time.Second, func() bool { return goroutinesIn("webui.(*handler).apiEvents") > 0 })
	pad := strings.Repeat("x", 60<<10)
	sent := 0
	took := waitFor(t, "the subscriber is dropped", 30*time.Second, func() bool {
		u.Bus().Publish("test", time.Now(), map[string]any{"pad": pad})
		sent++
		n, _ := s.conns()
		return n == 0
	})
	t.Logf("dropped after %v and %d events of 60 KB (WriteTimeout %v)", took.Round(time.Millisecond), sent, timeout)
	// net/http closes the connection as the write fails, before the handler returns and
	// logs why: the log line is waited for, not assumed.
	waitFor(t, "the drop is logged", 10*time.Second, func() bool { return logs.FilterMessage("event stream dropped").Len() > 0 })
	waitFor(t, "its goroutine ends", 10*time.Second, func() bool { return goroutinesIn(serving...) == 0 })
	drops := logs.FilterMessage("event stream dropped").All()
	if len(drops) != 1 || !strings.Contains(drops[0].ContextMap()["reason"].(string), "stopped reading") {
		t.Errorf("log: %v, want one line saying the client stopped reading", drops)
	}
}

// raiseFileLimit raises the soft limit of open files to the hard one and returns it.
func raiseFileLimit(t *testing.T) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			lim.Cur = old
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		})
	}
	return lim.Cur
}

// openFiles counts the process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(fds)
}

// goMemory is the memory the Go runtime holds from the system: everything it mapped, less
// what it returned (runtime/metrics), and the live heap.
func goMemory() (held, heap uint64) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64(), s[2].Value.Uint64()
}

// The acceptance test of issue 9 item 2: a slowloris of 2,000 slow-body connections and 500
// event subscribers that do not read leaves the phone answering /api/v1/status within 100 ms
// and its memory within 64 MB. The attackers come from 15 addresses; the status comes from
// others. Memory, file descriptors and goroutines are measured.
func TestSlowlorisLeavesPhoneAnswering(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,500 connections")
	}
	const slow, subs = 2000, 500
	if lim := raiseFileLimit(t); lim < 2*(slow+subs)+512 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the open-file limit is %d, the test needs %d", lim, 2*(slow+subs)+512)
		}
		t.Skipf("the hard open-file limit is %d, the test needs %d (ulimit -Hn)", lim, 2*(slow+subs)+512)
	}
	u, s, addr := limitServer(t, Options{Logger: zap.NewNop()}, phone.Options{})
	fdBase, gBase := openFiles(t), runtime.NumGoroutine()
	memBase, _ := goMemory()

	// The attack, 50 dialers at a time.
	type job struct {
		src string
		sub bool
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var attack []net.Conn
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for j := range jobs {
				c := dialFrom(t, j.src, addr, 4096)
				if j.sub {
					io.WriteString(c, "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
				} else {
					slowBody(c)
				}
				mu.Lock()
				attack = append(attack, c)
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range slow {
		jobs <- job{src: fmt.Sprintf("127.0.1.%d", 10+i%10)}
	}
	for i := range subs {
		jobs <- job{src: fmt.Sprintf("127.0.2.%d", 10+i%5), sub: true}
	}
	close(jobs)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range attack {
			c.Close()
		}
	})
	dialed := time.Since(start)
	// Events for the subscribers that do not read.
	for range 200 {
		u.Bus().Publish("test", time.Now(), map[string]any{"pad": strings.Repeat("e", 1000)})
	}

	var lat []time.Duration
	for i := range 7 {
		c := dialFrom(t, fmt.Sprintf("127.0.3.%d", 10+i), addr, 0)
		t0 := time.Now()
		code := statusOn(t, c)
		lat = append(lat, time.Since(t0))
		c.Close()
		if code != 200 {
			t.Fatalf("status during the attack = %d", code)
		}
	}
	held, _ := s.conns()
	fds := openFiles(t) - fdBase - len(attack) // the server's side
	goroutines := runtime.NumGoroutine() - gBase
	mem, heap := goMemory()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("%d slow bodies and %d subscribers from 15 addresses dialed in %v; the phone holds %d connections, "+
		"%d more fds, %d more goroutines; Go memory %d MB (%+d MB), heap %d MB; /api/v1/status in %v (median %v, max %v)",
		slow, subs, dialed.Round(time.Millisecond), held, fds, goroutines, mem>>20, (int64(mem)-int64(memBase))>>20, heap>>20,
		lat, lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)/2] > 100*time.Millisecond {
		t.Errorf("/api/v1/status takes %v (median), want within 100 ms", lat[len(lat)/2])
	}
	if mem > 64<<20 {
		t.Errorf("Go memory %d MB, want within 64 MB", mem>>20)
	}
	if held > DefaultMaxConns || fds > DefaultMaxConns+16 {
		t.Errorf("the phone holds %d connections and %d fds, bound %d", held, fds, DefaultMaxConns)
	}
	if goroutines > 4*DefaultMaxConns {
		t.Errorf("%d more goroutines for %d connections", goroutines, held)
	}
}
