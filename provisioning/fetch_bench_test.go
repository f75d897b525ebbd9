package provisioning

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.uber.org/zap"
)

// benchBodySize is the ~100 KB file of the fetch benchmarks: about the size of a large profile.
const benchBodySize = 100 << 10

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	body := bytes.Repeat([]byte("<Param>value</Param>\n"), benchBodySize/21+1)[:benchBodySize]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Length", strconv.Itoa(len(body))) // as nginx sends a static file
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkFetchHTTP fetches a 100 KB file through the Fetcher: a new connection per fetch
// (as the device), the User-Agent, the size limit, the address trace.
func BenchmarkFetchHTTP(b *testing.B) {
	srv := benchServer(b)
	f, err := NewFetcher(FetcherConfig{UserAgent: testUA, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Target: httpTarget(b, srv.URL, "/spa942.cfg")}
	b.SetBytes(benchBodySize)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := f.Fetch(b.Context(), req)
		if err != nil || len(resp.Body) != benchBodySize {
			b.Fatalf("Fetch() = %d bytes, %v", len(resp.Body), err)
		}
	}
}

// BenchmarkBareHTTPGet fetches the same bytes with a plain net/http client: with keep-alive
// (net/http's default) and with a new connection per request (what the Fetcher does), so
// that the Fetcher's own overhead can be told from the cost of connecting.
func BenchmarkBareHTTPGet(b *testing.B) {
	srv := benchServer(b)
	for _, bc := range []struct {
		name      string
		keepAlive bool
	}{
		{"keep-alive", true},
		{"new-connection", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := &http.Transport{DisableKeepAlives: !bc.keepAlive}
			b.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr}
			url := srv.URL + "/spa942.cfg"
			b.SetBytes(benchBodySize)
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("User-Agent", testUA)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(body) != benchBodySize {
					b.Fatalf("GET = %d bytes, %v", len(body), err)
				}
			}
		})
	}
}

// BenchmarkFetchTFTP fetches the same 100 KB over TFTP (200 blocks of 512 bytes, one
// round trip each) from a pin/tftp server on loopback.
func BenchmarkFetchTFTP(b *testing.B) {
	body := bytes.Repeat([]byte("x"), benchBodySize)
	ps := startPinServer(b, map[string][]byte{"/spa942.cfg": body}, false)
	f, err := NewFetcher(FetcherConfig{Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Target: ps.target("/spa942.cfg")}
	b.SetBytes(benchBodySize)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := f.Fetch(b.Context(), req)
		if err != nil || len(resp.Body) != benchBodySize {
			b.Fatalf("Fetch() = %v", err)
		}
	}
}
