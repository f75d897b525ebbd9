package provisioning

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// hopServers are three raw servers (plain A and B, TLS C) that answer a path
// /go/HOP,HOP,… with the first hop's redirect to /go/REST on the hop's server, and
// /go/ with 200. A hop is CODE:WHERE, WHERE one of A, B, C, L (A's port named
// localhost), rel (a relative Location), none (no Location), bad (a Location that does not
// parse), user (user information in it) or ftp. Every request head and body, byte for byte
// as it came off the wire, is recorded with the server's name.
type hopServers struct {
	addr map[string]string // A, B, C, L: scheme://host:port
	mu   sync.Mutex
	seen []string // guarded by mu
}

func startHopServers(t *testing.T) *hopServers {
	t.Helper()
	hs := &hopServers{addr: map[string]string{}}
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS() // for its certificate
	cert := ts.TLS.Certificates[0]
	ts.Close()
	for _, name := range []string{"A", "B", "C"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		hs.addr[name] = "http://127.0.0.1:" + port
		if name == "A" {
			hs.addr["L"] = "http://localhost:" + port
		}
		if name == "C" {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
			hs.addr[name] = "https://127.0.0.1:" + port
		}
		go hs.serve(ln, name)
	}
	return hs
}

func (hs *hopServers) serve(ln net.Listener, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			var head strings.Builder
			n := 0
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if k, v, ok := strings.Cut(line, ": "); ok && k == "Content-Length" {
					n, _ = strconv.Atoi(strings.TrimSpace(v))
				}
				if line == "\r\n" {
					break
				}
			}
			body := make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
			hs.mu.Lock()
			hs.seen = append(hs.seen, name+" "+head.String()+string(body))
			hs.mu.Unlock()
			path := strings.Fields(head.String())[1]
			io.WriteString(c, hs.answer(path))
			io.Copy(io.Discard, br) // the client closes
		}()
	}
}

func (hs *hopServers) answer(path string) string {
	spec, _ := strings.CutPrefix(path, "/go/")
	if spec == "" {
		return "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\narrived"
	}
	hop, rest, _ := strings.Cut(spec, ",")
	code, where, _ := strings.Cut(hop, ":")
	loc := ""
	switch where {
	case "A", "B", "C", "L":
		loc = hs.addr[where] + "/go/" + rest
	case "rel":
		loc = "./" + rest
	case "bad":
		loc = "http://[::1/x"
	case "user":
		loc = "http://u:p@127.0.0.1/go/"
	case "ftp":
		loc = "ftp://127.0.0.1/go/"
	}
	h := "HTTP/1.1 " + code + " Moved\r\n"
	if loc != "" {
		h += "Location: " + loc + "\r\n"
	}
	return h + "Content-Length: 5\r\n\r\nmoved"
}

func (hs *hopServers) take() []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	s := hs.seen
	hs.seen = nil
	return s
}

// oneShotTripper is the fetcher's exchange as an [http.RoundTripper], for net/http's Client.
type oneShotTripper struct{ o *oneShot }

func (t oneShotTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, _, err := t.o.roundTrip(req.Context(), req)
	return resp, err
}

// referenceSend is the fetcher's send as it was, on net/http's Client: the reference the
// redirects are held to.
func referenceSend(ctx context.Context, f *Fetcher, method string, u *url.URL, body []byte, authz string) (*http.Response, error) {
	client := &http.Client{Transport: oneShotTripper{f.tr}, CheckRedirect: f.checkRedirect}
	var rd io.Reader
	if method == http.MethodPost {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", http.DetectContentType(body))
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, tlsFailure(err)
	}
	return resp, nil
}

// TestSendFollowsRedirectsAsNetHTTP holds the fetcher's own redirects to net/http's Client
// with the same check: for every method (GET, POST with a body, POST without), with and
// without Authorization, and chains of 301, 302, 303, 307 and 308 to the same server, another
// port, another host name, http to https and back, relative, missing, malformed, refused
// and too many Locations, the servers read the same request heads and bodies byte for byte
// (Referer, Content-Type, Content-Length, Authorization among them) in the same order, and
// the answer, the URL it came from and the error are the same.
func TestSendFollowsRedirectsAsNetHTTP(t *testing.T) {
	hs := startHopServers(t)
	f := newTestFetcher(t, FetcherConfig{UserAgent: testUA, InsecureSkipVerify: true})
	chains := []string{
		"", "302:A", "301:A,301:A", "303:A", "307:A", "308:A,302:A", "307:A,307:A,307:A",
		"302:A,302:A,302:A,302:A", "307:B", "302:B,302:A", "307:L,307:A", "302:L,302:A,302:A",
		"307:C", "302:C,302:A", "308:C,307:C", "302:rel", "307:rel,307:B", "302:none", "307:none",
		"302:bad", "302:user", "302:ftp", "300:A", "304:A", "302:A,303:A,307:A",
		"307:A,303:B", "303:B,307:A",
	}
	type outcome struct {
		code        int
		at, final   string
		err, answer string
		seen        []string
	}
	run := func(send func() (*http.Response, error), x *httpExchange) outcome {
		resp, err := send()
		var o outcome
		if err != nil {
			o.err = err.Error()
		} else {
			x.redirected(resp)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.code, o.at, o.final, o.answer = resp.StatusCode, resp.Request.URL.String(), x.final, string(b)
		}
		o.seen = hs.take()
		return o
	}
	for _, start := range []string{"A", "C"} {
		for _, chain := range chains {
			for _, method := range []string{"GET", "POST", "POST-empty"} {
				for _, authz := range []string{"", "Basic cGhvbmU6cHc="} {
					name := fmt.Sprintf("%s %s/go/%s auth=%v", method, start, chain, authz != "")
					u, err := url.Parse(hs.addr[start] + "/go/" + chain)
					if err != nil {
						t.Fatal(err)
					}
					var body []byte
					m := method
					switch method {
					case "POST":
						body = []byte(`Product = "SPA942";`)
					case "POST-empty":
						m = http.MethodPost
					}
					var x httpExchange
					got := run(func() (*http.Response, error) { return f.send(t.Context(), &x, m, u, body, authz) }, &x)
					var xr httpExchange
					want := run(func() (*http.Response, error) { return referenceSend(t.Context(), f, m, u, body, authz) }, &xr)
					if got.code != want.code || got.at != want.at || got.final != want.final || got.err != want.err || got.answer != want.answer {
						t.Errorf("%s: got %d at %s (final %q) err %q answer %q, want %d at %s (final %q) err %q answer %q", name,
							got.code, got.at, got.final, got.err, got.answer, want.code, want.at, want.final, want.err, want.answer)
					}
					if !slices.Equal(got.seen, want.seen) {
						t.Errorf("%s: servers read\n%q\nwant\n%q", name, got.seen, want.seen)
					}
				}
			}
		}
	}
}
