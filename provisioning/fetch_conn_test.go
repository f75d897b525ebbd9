package provisioning

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawServer accepts connections on loopback and answers each with answer(request head),
// written as it is, then closes; it sends every request head it read on heads.
func rawServer(t *testing.T, answer func(head string) string) (Target, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	heads := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(line)
					if line == "\r\n" {
						break
					}
				}
				heads <- head.String()
				io.WriteString(c, answer(head.String()))
				// The client closes: the connection is its own (read until it does).
				io.Copy(io.Discard, br)
			}()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return Target{Scheme: "http", Host: "127.0.0.1", Port: port, Path: "/spa942.cfg"}, heads
}

// TestFetchHTTPWire checks the request as the server reads it off the wire: HTTP/1.1, the
// phone's User-Agent, Connection: close, no Accept-Encoding (SPA-BEHAVIOUR §7.1), one
// connection per request; and that informational answers before the response are skipped.
func TestFetchHTTPWire(t *testing.T) {
	target, heads := rawServer(t, func(string) string {
		return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n<flat-profile/>"
	})
	f := newTestFetcher(t, FetcherConfig{UserAgent: testUA})
	for range 2 {
		resp, err := f.Fetch(t.Context(), Request{Target: target})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != "<flat-profile/>" {
			t.Fatalf("body %q", resp.Body)
		}
		head := <-heads // a head per request: a connection each (the server reads one a connection)
		lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
		if lines[0] != "GET /spa942.cfg HTTP/1.1" {
			t.Errorf("request line %q", lines[0])
		}
		got := map[string]string{}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ": ")
			got[strings.ToLower(k)] = v
		}
		want := map[string]string{"host": "127.0.0.1:" + strconv.Itoa(target.Port), "user-agent": testUA, "connection": "close"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %q, want %q (head %q)", k, got[k], v, head)
			}
		}
		if _, ok := got["accept-encoding"]; ok || len(got) != len(want) {
			t.Errorf("headers %v, want exactly %v", got, want)
		}
	}
}

// TestFetchHTTPHeaderBound checks that a response header without end is refused once it
// passes 64 KiB, rather than read for ever.
func TestFetchHTTPHeaderBound(t *testing.T) {
	target, _ := rawServer(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 70<<10) + "\r\n\r\n"
	})
	f := newTestFetcher(t, FetcherConfig{})
	_, err := f.Fetch(t.Context(), Request{Target: target})
	if !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("Fetch() error = %v, want the header bound", err)
	}
}

// TestFetchHTTPIntoBuffer checks Request.Buffer: it is asked once the headers of a success
// have come, with the announced length; a body that fits is read into it, announced or
// chunked; one that does not gets its own.
func TestFetchHTTPIntoBuffer(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		room         int
		into         bool
		size         int64 // what Buffer is asked for
	}{
		{"announced", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n<flat-profile/>", 64, true, 15},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<flat\r\na\r\n-profile/>\r\n0\r\n\r\n", 64, true, -1},
		{"announced, no room", "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n<flat-profile/>", 8, false, 15},
		{"chunked, no room", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<flat\r\na\r\n-profile/>\r\n0\r\n\r\n", 8, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, _ := rawServer(t, func(string) string { return tc.answer })
			f := newTestFetcher(t, FetcherConfig{})
			buf := make([]byte, 0, tc.room)
			var asked []int64
			resp, err := f.Fetch(t.Context(), Request{Target: target, Buffer: func(size int64) []byte {
				asked = append(asked, size)
				return buf
			}})
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != "<flat-profile/>" {
				t.Fatalf("body %q", resp.Body)
			}
			if into := &resp.Body[0] == &buf[:1][0]; into != tc.into {
				t.Errorf("read into the buffer: %v, want %v", into, tc.into)
			}
			if len(asked) != 1 || asked[0] != tc.size {
				t.Errorf("Buffer asked for %v, want once for %d", asked, tc.size)
			}
		})
	}
}

// TestFetchHTTPBufferNotTakenOnFailure checks that a fetch that fails before a body is read
// (an error status, a body announced over the limit) asks for no buffer.
func TestFetchHTTPBufferNotTakenOnFailure(t *testing.T) {
	for _, tc := range []struct{ name, answer string }{
		{"not found", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"},
		{"too large", "HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("x", 2048)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, _ := rawServer(t, func(string) string { return tc.answer })
			f := newTestFetcher(t, FetcherConfig{MaxSize: 1024})
			asked := 0
			_, err := f.Fetch(t.Context(), Request{Target: target, Buffer: func(int64) []byte { asked++; return nil }})
			if err == nil {
				t.Fatal("Fetch() succeeded, want an error")
			}
			if asked != 0 {
				t.Errorf("Buffer asked %d times, want none", asked)
			}
		})
	}
}

// TestFetchHTTPOverLimitNotSent checks that a body announced over the limit and never sent,
// on a connection the server keeps open without "Connection: close", fails at once as too
// large: closing the response read what was announced, and waited on the server.
func TestFetchHTTPOverLimitNotSent(t *testing.T) {
	target, _ := rawServer(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
	})
	f := newTestFetcher(t, FetcherConfig{MaxSize: 1024, Timeout: time.Hour})
	got := make(chan error, 1)
	go func() {
		_, err := f.Fetch(t.Context(), Request{Target: target})
		got <- err
	}()
	// A bound for the failure message of a regression (which hangs), not a measure.
	select {
	case err := <-got:
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Fetch() error = %v, want too large", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Fetch() still waits a minute after the headers announced a body over the limit")
	}
}
