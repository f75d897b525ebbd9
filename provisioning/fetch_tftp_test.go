package provisioning

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
	"github.com/spa900/spa900/internal/testlog"
)

// newTestFetcher builds a fetcher that logs to the test.
func newTestFetcher(t testing.TB, cfg FetcherConfig) *Fetcher {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testlog.New(t)
	}
	f, err := NewFetcher(cfg)
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	return f
}

// pinServer is a pin/tftp server on 127.0.0.1 with files in memory.
type pinServer struct {
	port int

	mu      sync.Mutex
	files   map[string][]byte // guarded by mu
	uploads map[string][]byte // guarded by mu
	clients []net.IP          // guarded by mu: the source address of every request
}

func startPinServer(t testing.TB, files map[string][]byte, writable bool) *pinServer {
	t.Helper()
	ps := &pinServer{files: files, uploads: map[string][]byte{}}
	read := func(name string, rf io.ReaderFrom) error {
		ps.mu.Lock()
		data, ok := ps.files[name]
		ra := rf.(tftp.OutgoingTransfer).RemoteAddr()
		ps.clients = append(ps.clients, ra.IP)
		ps.mu.Unlock()
		if !ok {
			return errors.New("File not found")
		}
		_, err := rf.ReadFrom(bytes.NewReader(data))
		return err
	}
	var write func(string, io.WriterTo) error
	if writable {
		write = func(name string, wt io.WriterTo) error {
			var b bytes.Buffer
			if _, err := wt.WriteTo(&b); err != nil {
				return err
			}
			ps.mu.Lock()
			ps.uploads[name] = b.Bytes()
			ps.mu.Unlock()
			return nil
		}
	}
	srv := tftp.NewServer(read, write)
	srv.SetTimeout(time.Second)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ps.port = conn.LocalAddr().(*net.UDPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(conn)
	}()
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return ps
}

func (ps *pinServer) target(path string) Target {
	return Target{Scheme: "tftp", Host: "127.0.0.1", Port: ps.port, Path: path}
}

func TestFetchTFTP(t *testing.T) {
	files := map[string][]byte{
		"/spa942.cfg":   []byte("<flat-profile><GPP_A>x</GPP_A></flat-profile>"),
		"/multi.cfg":    bytes.Repeat([]byte("0123456789"), 150), // 1500 bytes: 3 blocks
		"/exact.cfg":    bytes.Repeat([]byte("a"), 1024),         // ends with an empty block
		"/empty.cfg":    {},
		"/big.bin":      bytes.Repeat([]byte("b"), 3000),
		"noslash.cfg":   []byte("no slash"),
		"/dir/$MA.cfg?": []byte("odd name"),
	}
	ps := startPinServer(t, files, false)
	f := newTestFetcher(t, FetcherConfig{MaxSize: 2048, TFTPTimeout: 500 * time.Millisecond})
	tests := []struct {
		name    string
		req     Request
		want    []byte
		wantErr error
	}{
		{"leading slash kept", Request{Target: ps.target("/spa942.cfg")}, files["/spa942.cfg"], nil},
		{"path without slash as given", Request{Target: ps.target("noslash.cfg")}, files["noslash.cfg"], nil},
		{"odd characters as given", Request{Target: ps.target("/dir/$MA.cfg?")}, files["/dir/$MA.cfg?"], nil},
		{"three blocks", Request{Target: ps.target("/multi.cfg")}, files["/multi.cfg"], nil},
		{"multiple of 512", Request{Target: ps.target("/exact.cfg")}, files["/exact.cfg"], nil},
		{"empty file", Request{Target: ps.target("/empty.cfg")}, []byte{}, nil},
		{"scheme defaults to tftp", Request{Target: Target{Host: "127.0.0.1", Port: ps.port, Path: "/spa942.cfg"}}, files["/spa942.cfg"], nil},
		{"explicit GET", Request{Target: ps.target("/spa942.cfg"), Method: "get"}, files["/spa942.cfg"], nil},
		{"file not found", Request{Target: ps.target("/spa001122aabbcc.xml")}, nil, ErrNotFound},
		{"larger than the limit", Request{Target: ps.target("/big.bin")}, nil, ErrTooLarge},
		{"limit raised per request", Request{Target: ps.target("/big.bin"), MaxSize: 4096}, files["/big.bin"], nil},
		{"post is http only", Request{Target: ps.target("/spa942.cfg"), Method: "POST", Body: []byte("x")}, nil, ErrUnsupported},
		{"other method", Request{Target: ps.target("/spa942.cfg"), Method: "PUT"}, nil, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.Fetch(t.Context(), tt.req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Fetch() error = %v, want %v", err, tt.wantErr)
				}
				var fe *FetchError
				if !errors.As(err, &fe) || !strings.HasPrefix(fe.Op, "tftp_") {
					t.Errorf("Fetch() error = %#v, want a *FetchError with a tftp_ Op", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if !bytes.Equal(resp.Body, tt.want) {
				t.Errorf("Body = %q, want %q", resp.Body, tt.want)
			}
			if want := netip.MustParseAddr("127.0.0.1"); resp.ServerIP != want || resp.Port != ps.port {
				t.Errorf("ServerIP, Port = %v, %d, want %v, %d", resp.ServerIP, resp.Port, want, ps.port)
			}
		})
	}
}

func TestFetchTFTPNotFoundIsTFTPError(t *testing.T) {
	ps := startPinServer(t, map[string][]byte{}, false)
	f := newTestFetcher(t, FetcherConfig{})
	_, err := f.Fetch(t.Context(), Request{Target: ps.target("/missing.cfg")})
	var te *TFTPError
	if !errors.As(err, &te) || te.Code != TFTPFileNotFound || te.Message != "File not found" {
		t.Fatalf("Fetch() error = %v, want TFTPError code 1 \"File not found\"", err)
	}
	if got, want := ErrText(err), "file not found"; got != want {
		t.Errorf("ErrText() = %q, want %q", got, want)
	}
}

func TestFetchTFTPFromLocalAddr(t *testing.T) {
	ps := startPinServer(t, map[string][]byte{"/spa942.cfg": []byte("x")}, false)
	f := newTestFetcher(t, FetcherConfig{LocalAddr: netip.MustParseAddr("127.0.0.2")})
	if _, err := f.Fetch(t.Context(), Request{Target: ps.target("/spa942.cfg")}); err != nil {
		t.Fatalf("Fetch() error = %v", err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.clients) != 1 || !ps.clients[0].Equal(net.IPv4(127, 0, 0, 2)) {
		t.Errorf("request came from %v, want 127.0.0.2", ps.clients)
	}
}

// TestFetchTFTPWire checks the exact read request on the wire: opcode 1, the path as given,
// octet mode and no options (SPA-BEHAVIOUR §7.3), then the transfer from the server's new
// port (its TID).
func TestFetchTFTPWire(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 1024)
		n, client, err := conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		got <- append([]byte(nil), buf[:n]...)
		data, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return
		}
		defer data.Close()
		pkt := binary.BigEndian.AppendUint16(nil, 3) // DATA
		pkt = binary.BigEndian.AppendUint16(pkt, 1)
		pkt = append(pkt, "hello"...)
		_, _ = data.WriteToUDP(pkt, client)
		_ = data.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, _ = data.ReadFromUDP(buf) // the final ACK
	}()
	f := newTestFetcher(t, FetcherConfig{})
	resp, err := f.Fetch(t.Context(), Request{Target: Target{Host: "127.0.0.1", Port: conn.LocalAddr().(*net.UDPAddr).Port, Path: "/spa942.cfg"}})
	if err != nil {
		t.Fatalf("Fetch() error = %v", err)
	}
	if string(resp.Body) != "hello" {
		t.Errorf("Body = %q, want %q", resp.Body, "hello")
	}
	want := "\x00\x01/spa942.cfg\x00octet\x00"
	if rrq := <-got; string(rrq) != want {
		t.Errorf("RRQ = %q, want %q", rrq, want)
	}
}

// silentServer is a UDP socket that reads requests and never answers. Each request's
// arrival is signalled on the returned channel.
func silentServer(t *testing.T) (int, <-chan struct{}) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan struct{}, 64)
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, _, err := conn.ReadFromUDP(buf); err != nil {
				return
			}
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).Port, got
}

func TestFetchTFTPSilentServerTimesOut(t *testing.T) {
	port, got := silentServer(t)
	f := newTestFetcher(t, FetcherConfig{TFTPTimeout: 50 * time.Millisecond, TFTPRetries: 3})
	start := time.Now()
	_, err := f.Fetch(t.Context(), Request{Target: Target{Scheme: "tftp", Host: "127.0.0.1", Port: port, Path: "/spa942.cfg"}})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Fetch() error = %v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Fetch() took %v, want about 200ms", took)
	}
	// The first send and TFTPRetries retransmissions, then nothing more.
	deadline := time.After(5 * time.Second)
	for n := 0; n < 4; n++ {
		select {
		case <-got:
		case <-deadline:
			t.Fatalf("server got %d requests, want 4", n)
		}
	}
	if n := len(got); n != 0 {
		t.Errorf("server got %d more requests, want 4 in all", n)
	}
	if got, want := ErrText(err), "tftp_get failed (timeout)"; got != want {
		t.Errorf("ErrText() = %q, want %q", got, want)
	}
}

func TestFetchTFTPBoundedByFetchTimeout(t *testing.T) {
	port, _ := silentServer(t)
	f := newTestFetcher(t, FetcherConfig{Timeout: 100 * time.Millisecond, TFTPTimeout: 10 * time.Second})
	start := time.Now()
	_, err := f.Fetch(t.Context(), Request{Target: Target{Scheme: "tftp", Host: "127.0.0.1", Port: port, Path: "/x"}})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch() error = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Fetch() took %v, want about 100ms", took)
	}
}

func TestFetchTFTPCancelReturnsPromptly(t *testing.T) {
	port, got := silentServer(t)
	f := newTestFetcher(t, FetcherConfig{TFTPTimeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-got // the request is on the wire: the client now waits for an answer
		cancel()
	}()
	start := time.Now()
	_, err := f.Fetch(ctx, Request{Target: Target{Scheme: "tftp", Host: "127.0.0.1", Port: port, Path: "/x"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch() error = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Fetch() took %v after cancel, want at once", took)
	}
}

func TestUploadTFTP(t *testing.T) {
	ps := startPinServer(t, map[string][]byte{}, true)
	f := newTestFetcher(t, FetcherConfig{})
	body := []byte(strings.Repeat("<flat-profile/>", 100)) // several blocks
	if err := f.Upload(t.Context(), UploadRequest{Target: ps.target("/rep/000e08aabbcc.xml"), Body: body}); err != nil {
		t.Fatalf("Upload() error = %v", err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if got := ps.uploads["/rep/000e08aabbcc.xml"]; !bytes.Equal(got, body) {
		t.Errorf("uploaded %d bytes, want %d", len(got), len(body))
	}
}

func TestUploadTFTPRefused(t *testing.T) {
	ps := startPinServer(t, map[string][]byte{}, false)
	f := newTestFetcher(t, FetcherConfig{})
	err := f.Upload(t.Context(), UploadRequest{Target: ps.target("/rep.xml"), Body: []byte("x")})
	var fe *FetchError
	var te *TFTPError
	if !errors.As(err, &fe) || fe.Op != "tftp_put" || !errors.As(err, &te) {
		t.Fatalf("Upload() error = %v, want a tftp_put FetchError with a TFTPError", err)
	}
}

func TestTFTPErrorText(t *testing.T) {
	tests := []struct {
		name string
		in   error
		want error
	}{
		{"read form", errors.New("code: 1, message: File not found\x00"), &TFTPError{Code: 1, Message: "File not found"}},
		{"write form", errors.New("sending block 0: code=2, error: Access violation"), &TFTPError{Code: 2, Message: "Access violation"}},
		{"message with commas", errors.New("code: 0, message: a, b, c"), &TFTPError{Code: 0, Message: "a, b, c"}},
		{"controls cleaned", errors.New("code: 2, message: denied\r\n<13>forged\x1b[2K"), &TFTPError{Code: 2, Message: "denied <13>forged [2K"}},
		{"long text cut", errors.New("code: 0, message: " + strings.Repeat("x", 600)), &TFTPError{Code: 0, Message: strings.Repeat("x", maxTFTPErrorText) + "…"}},
		{"not an error packet", errors.New("short packet"), nil},
		{"bad code", errors.New("code: x, message: y"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tftpError(tt.in)
			if tt.want == nil {
				if !errors.Is(got, tt.in) {
					t.Errorf("tftpError(%q) = %v, want it unchanged", tt.in, got)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("tftpError(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestFetchTFTPNextAddress checks that a name with several addresses is tried address by
// address while a server does not answer (SPA-BEHAVIOUR §2.2 "multiply resolved").
func TestFetchTFTPNextAddress(t *testing.T) {
	ps := startPinServer(t, map[string][]byte{"/spa942.cfg": []byte("second")}, false)
	// 127.0.0.3 at the server's port reads requests and never answers.
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3), Port: ps.port})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	contacted := make(chan struct{}, 16)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 1024)
		for {
			if _, _, err := silent.ReadFromUDP(buf); err != nil {
				return
			}
			contacted <- struct{}{}
		}
	}()
	f := newTestFetcher(t, FetcherConfig{TFTPTimeout: 50 * time.Millisecond, TFTPRetries: 1})
	var asked []string
	f.lookup = func(_ context.Context, network, host string) ([]netip.Addr, error) {
		asked = append(asked, network+" "+host)
		return []netip.Addr{netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.1")}, nil
	}
	resp, err := f.Fetch(t.Context(), Request{Target: Target{Scheme: "tftp", Host: "prov.example", Port: ps.port, Path: "/spa942.cfg"}})
	if err != nil {
		t.Fatalf("Fetch() error = %v", err)
	}
	if string(resp.Body) != "second" || resp.ServerIP != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Fetch() = %q from %v, want %q from 127.0.0.1", resp.Body, resp.ServerIP, "second")
	}
	if want := []string{"ip prov.example"}; fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("lookups = %q, want %q", asked, want)
	}
	if want := "tftp://prov.example:" + fmt.Sprint(ps.port) + "/spa942.cfg"; resp.URL != want {
		t.Errorf("URL = %q, want %q", resp.URL, want)
	}
	for n := 0; n < 2; n++ { // the first send and one retransmission (TFTPRetries 1)
		select {
		case <-contacted:
		case <-time.After(5 * time.Second):
			t.Fatalf("silent address got %d requests, want 2", n)
		}
	}

	// A file-not-found is an answer: the next address is not asked.
	f.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3")}, nil
	}
	if _, err := f.Fetch(t.Context(), Request{Target: Target{Host: "prov.example", Port: ps.port, Path: "/nope"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Fetch() error = %v, want ErrNotFound", err)
	}
	silent.Close()
	<-readerDone
	if n := len(contacted); n != 0 {
		t.Errorf("the second address got %d requests after a file-not-found, want none", n)
	}
}

func TestFetchNoServer(t *testing.T) {
	f := newTestFetcher(t, FetcherConfig{})
	for _, scheme := range []string{"", "http", "https"} {
		_, err := f.Fetch(t.Context(), Request{Target: Target{Scheme: scheme, Path: "/spa942.cfg"}})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Fetch(%q without host) error = %v, want ErrUnsupported", scheme, err)
		}
	}
	if err := f.Upload(t.Context(), UploadRequest{Target: Target{Path: "/r.xml"}}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Upload(without host) error = %v, want ErrUnsupported", err)
	}
}

// A transfer that finished as the context ended keeps its result: both are ready when the
// wait begins, and select alone would pick either at random (issue 9 item 10).
func TestAwaitTransferPrefersTheResult(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i := range 200 {
		done := make(chan tftpResult, 1)
		done <- tftpResult{body: []byte("profile")}
		body, err := awaitTransfer(ctx, done)
		if err != nil || string(body) != "profile" {
			t.Fatalf("round %d: awaitTransfer = %q, %v; want the transfer's result", i, body, err)
		}
	}
	if _, err := awaitTransfer(ctx, make(chan tftpResult)); !errors.Is(err, context.Canceled) {
		t.Fatalf("no result: err = %v, want context.Canceled", err)
	}
}

// A TFTP path with ../ is requested as written, as the device does: the server decides what
// a name may reach (issue 9 item 9; the package's TFTP notes).
func TestFetchTFTPSendsDotDotAsGiven(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 1024)
		n, client, err := conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		got <- append([]byte(nil), buf[:n]...)
		pkt := binary.BigEndian.AppendUint16(nil, 5) // ERROR 2 Access violation
		pkt = binary.BigEndian.AppendUint16(pkt, 2)
		pkt = append(pkt, "Access violation\x00"...)
		_, _ = conn.WriteToUDP(pkt, client)
	}()
	f := newTestFetcher(t, FetcherConfig{})
	_, err = f.Fetch(t.Context(), Request{Target: Target{Host: "127.0.0.1", Port: conn.LocalAddr().(*net.UDPAddr).Port, Path: "/../../etc/spa942.cfg"}})
	var te *TFTPError
	if !errors.As(err, &te) || te.Code != TFTPAccessViolation {
		t.Fatalf("Fetch() error = %v, want the server's access violation", err)
	}
	if rrq, want := string(<-got), "\x00\x01/../../etc/spa942.cfg\x00octet\x00"; rrq != want {
		t.Errorf("RRQ = %q, want %q", rrq, want)
	}
}
