package provisioning

import (
	"bytes"
	"crypto/x509/pkix"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
)

// Tests against the real peers a provisioning server is made of: tftpd-hpa and nginx
// (SPA-BEHAVIOUR §2.2–§2.4, §4.5, §7). They skip without the peers, or fail under CI=true.

// phoneAddr is a fleet phone's own loopback address.
const phoneAddr = "127.0.0.2"

func TestPeerTFTPD(t *testing.T) {
	phoneIP := netip.MustParseAddr(phoneAddr)
	d := provtest.StartTFTPD(t, t.TempDir())
	profile := []byte(`<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>`)
	image := bytes.Repeat([]byte{0x00, 0xff, 0x55, 0xaa}, 50_000) // 200 kB, binary
	d.WriteFile(t, "spa942.cfg", profile)
	d.WriteFile(t, "fw/spa942-5.1.15.bin", image)
	f := newTestFetcher(t, FetcherConfig{LocalAddr: phoneIP, UserAgent: testUA, MaxSize: 64 << 10})
	target := func(path string) Target {
		return Target{Scheme: "tftp", Host: d.Host, Port: d.Port, Path: path}
	}

	tests := []struct {
		name     string
		req      Request
		want     []byte
		wantErr  error
		wantText string
	}{
		{name: "default rule path with leading slash", req: Request{Target: target("/spa942.cfg")}, want: profile},
		{name: "same file without slash", req: Request{Target: target("spa942.cfg")}, want: profile},
		{name: "firmware with a larger limit", req: Request{Target: target("/fw/spa942-5.1.15.bin"), MaxSize: 1 << 20}, want: image},
		{name: "file not found", req: Request{Target: target("/spa001122aabbcc.xml")}, wantErr: ErrNotFound, wantText: "file not found"},
		{name: "too large", req: Request{Target: target("/fw/spa942-5.1.15.bin")}, wantErr: ErrTooLarge, wantText: "tftp_get failed (too large)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.Fetch(t.Context(), tt.req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Fetch() error = %v, want %v", err, tt.wantErr)
				}
				if got := ErrText(err); got != tt.wantText {
					t.Errorf("ErrText() = %q, want %q", got, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if !bytes.Equal(resp.Body, tt.want) {
				t.Errorf("Body: got %d bytes, want %d", len(resp.Body), len(tt.want))
			}
			if resp.ServerIP != netip.MustParseAddr(d.Host) || resp.Port != d.Port {
				t.Errorf("ServerIP, Port = %v, %d, want %s, %d", resp.ServerIP, resp.Port, d.Host, d.Port)
			}
		})
	}

	t.Run("not found is error code 1", func(t *testing.T) {
		_, err := f.Fetch(t.Context(), Request{Target: target("/missing.cfg")})
		var te *TFTPError
		if !errors.As(err, &te) || te.Code != TFTPFileNotFound {
			t.Fatalf("Fetch() error = %v, want TFTP error code 1", err)
		}
	})

	t.Run("report upload", func(t *testing.T) {
		report := bytes.Repeat([]byte("<flat-profile/>\n"), 200) // 3200 bytes: several blocks
		err := f.Upload(t.Context(), UploadRequest{Target: target("/000e08aabbcc-report.xml"), Body: report})
		if err != nil {
			t.Fatalf("Upload() error = %v", err)
		}
		if got := d.ReadFile(t, "000e08aabbcc-report.xml"); !bytes.Equal(got, report) {
			t.Errorf("server stored %d bytes, want %d", len(got), len(report))
		}
	})
}

func TestPeerNginx(t *testing.T) {
	phoneIP := netip.MustParseAddr(phoneAddr)
	n := provtest.StartNginx(t, provtest.Options{BasicUser: "phone1", BasicPassword: "pw-1234"})
	profile := []byte(`<flat-profile><GPP_A>from nginx</GPP_A></flat-profile>`)
	n.WriteFile(t, "spa942.cfg", profile)
	n.WriteFile(t, "big.bin", bytes.Repeat([]byte("z"), 64<<10))
	n.WriteFile(t, "prov/spa"+provtest.DefaultClientCN+".xml", profile)
	n.WriteFile(t, "prov/spa0011223344ff.xml", profile)
	other := provtest.NewPKI(t, "", pkix.Name{CommonName: "someone else"})

	plain := Target{Scheme: "http", Host: "127.0.0.1", Port: n.HTTPPort}
	secure := Target{Scheme: "https", Host: "127.0.0.1", Port: n.HTTPSPort}
	at := func(base Target, path string) Target { base.Path = path; return base }

	phone := FetcherConfig{LocalAddr: phoneIP, UserAgent: testUA, RootCAs: n.PKI.CAPool,
		ClientCert: &n.PKI.ClientCert, MaxSize: 32 << 10, Timeout: 5 * time.Second}
	with := func(change func(*FetcherConfig)) FetcherConfig {
		c := phone
		change(&c)
		return c
	}

	tests := []struct {
		name     string
		cfg      FetcherConfig
		req      Request
		want     string
		wantErr  error
		wantCode int
		wantText string
		// check, if set, inspects the access log line of the request.
		check func(t *testing.T, e provtest.AccessEntry)
	}{
		{
			name: "get with the phone's user agent and address", cfg: phone,
			req: Request{Target: at(plain, "/spa942.cfg")}, want: string(profile),
			check: func(t *testing.T, e provtest.AccessEntry) {
				if e.UserAgent != testUA || e.RemoteAddr != phoneIP.String() || e.Method != "GET" || e.Status != 200 {
					t.Errorf("access log = %+v, want GET 200 from %s with UA %q", e, phoneIP, testUA)
				}
			},
		},
		{
			name: "post body", cfg: phone,
			req:  Request{Target: at(plain, provtest.PrefixUpload+"resyncs?"), Method: "POST", Body: []byte(`Product = "SPA942"; MAC_Addr = "000e08aabbcc";`)},
			want: "stored\n",
			check: func(t *testing.T, e provtest.AccessEntry) {
				if e.Method != "POST" || e.RequestBody != `Product = "SPA942"; MAC_Addr = "000e08aabbcc";` || e.UserAgent != testUA {
					t.Errorf("access log = %+v, want the POST body", e)
				}
			},
		},
		{name: "missing file", cfg: phone, req: Request{Target: at(plain, "/spa962.cfg")}, wantErr: ErrNotFound, wantCode: 404, wantText: "file not found"},
		{name: "403", cfg: phone, req: Request{Target: at(plain, provtest.PathForbidden)}, wantCode: 403, wantText: "http_get failed (403 Forbidden)"},
		{name: "500", cfg: phone, req: Request{Target: at(plain, provtest.PathServerError)}, wantCode: 500, wantText: "http_get failed (500 Internal Server Error)"},
		{name: "redirect", cfg: phone, req: Request{Target: at(plain, provtest.PrefixRedirect+"spa942.cfg")}, want: string(profile)},
		{
			name: "slow server bounded by the timeout", cfg: with(func(c *FetcherConfig) { c.Timeout = 500 * time.Millisecond; c.MaxSize = 1 << 20 }),
			req: Request{Target: at(plain, provtest.PrefixSlow+"big.bin")}, wantErr: ErrTimeout, wantText: "http_get failed (timeout)",
		},
		{
			name: "stalled body bounded by the timeout", cfg: with(func(c *FetcherConfig) { c.Timeout = 500 * time.Millisecond }),
			req: Request{Target: at(plain, provtest.PathStall+"/spa942.cfg")}, wantErr: ErrTimeout,
		},
		{name: "truncated body", cfg: phone, req: Request{Target: at(plain, provtest.PathTruncated+"/spa942.cfg")}, wantErr: ErrTruncated, wantText: "http_get failed (truncated)"},
		{name: "size limit", cfg: phone, req: Request{Target: at(plain, "/big.bin")}, wantErr: ErrTooLarge, wantText: "http_get failed (too large)"},
		{
			name: "basic auth with --uid/--pwd", cfg: phone,
			req: Request{Target: at(plain, provtest.PrefixAuth+"spa942.cfg"), User: "phone1", Password: "pw-1234"}, want: string(profile),
			check: func(t *testing.T, e provtest.AccessEntry) {
				if e.RemoteUser != "phone1" || e.Status != 200 {
					t.Errorf("access log = %+v, want 200 for phone1", e)
				}
			},
		},
		{name: "basic auth wrong password", cfg: phone, req: Request{Target: at(plain, provtest.PrefixAuth+"spa942.cfg"), User: "phone1", Password: "wrong"}, wantCode: 401},
		{
			name: "https with client certificate", cfg: phone,
			req: Request{Target: at(secure, "/spa942.cfg")}, want: string(profile),
			check: func(t *testing.T, e provtest.AccessEntry) {
				if !strings.Contains(e.ClientDN, "CN="+provtest.DefaultClientCN) || e.ClientVerify != "SUCCESS" || e.UserAgent != testUA {
					t.Errorf("access log = %+v, want the phone's certificate verified", e)
				}
			},
		},
		{name: "https per-device file of this phone", cfg: phone, req: Request{Target: at(secure, "/prov/spa"+provtest.DefaultClientCN+".xml")}, want: string(profile)},
		{name: "https per-device file of another phone", cfg: phone, req: Request{Target: at(secure, "/prov/spa0011223344ff.xml")}, wantCode: 403},
		{
			name: "https without client certificate", cfg: with(func(c *FetcherConfig) { c.ClientCert = nil }),
			req: Request{Target: at(secure, "/spa942.cfg")}, wantErr: ErrTLS, wantCode: 400,
			wantText: "https_get failed (tls: server requires a client certificate)",
		},
		{
			name: "https with a certificate of another authority", cfg: with(func(c *FetcherConfig) { c.ClientCert = &other.ClientCert }),
			req: Request{Target: at(secure, "/spa942.cfg")}, wantErr: ErrTLS, wantCode: 400,
			wantText: "https_get failed (tls: client certificate rejected)",
		},
		{
			name: "https server not trusted", cfg: with(func(c *FetcherConfig) { c.RootCAs = other.CAPool }),
			req: Request{Target: at(secure, "/spa942.cfg")}, wantErr: ErrTLS,
			wantText: "https_get failed (tls: server certificate not trusted)",
		},
		{
			name: "https insecure switch", cfg: with(func(c *FetcherConfig) { c.RootCAs = other.CAPool; c.InsecureSkipVerify = true }),
			req: Request{Target: at(secure, "/spa942.cfg")}, want: string(profile),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFetcher(t, tt.cfg)
			resp, err := f.Fetch(t.Context(), tt.req)
			if tt.wantErr != nil || tt.wantCode != 0 {
				checkFetchError(t, err, tt.wantErr, tt.wantCode, tt.wantText)
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			if string(resp.Body) != tt.want {
				t.Errorf("Body = %q, want %q", resp.Body, tt.want)
			}
			if resp.ServerIP != netip.MustParseAddr("127.0.0.1") || resp.Port != tt.req.Target.Port {
				t.Errorf("ServerIP, Port = %v, %d", resp.ServerIP, resp.Port)
			}
			if tt.check != nil {
				uri := tt.req.Target.Path
				tt.check(t, n.WaitAccess(t, func(e provtest.AccessEntry) bool {
					return e.URI == uri && e.ServerPort == tt.req.Target.Port && e.Status != 401
				}))
			}
		})
	}

	t.Run("report upload over http and https", func(t *testing.T) {
		f := newTestFetcher(t, phone)
		for _, base := range []Target{plain, secure} {
			path := provtest.PrefixUpload + base.Scheme + "/000e08aabbcc.xml"
			report := []byte(`<flat-profile><Report via="` + base.Scheme + `"/></flat-profile>`)
			if err := f.Upload(t.Context(), UploadRequest{Target: at(base, path), Body: report}); err != nil {
				t.Fatalf("Upload(%s) error = %v", base.Scheme, err)
			}
			up := n.WaitUpload(t, func(u provtest.Upload) bool { return u.Path == path })
			if up.Method != "POST" || !bytes.Equal(up.Body, report) || up.Header.Get("User-Agent") != testUA {
				t.Errorf("%s upload = %s %q UA %q", base.Scheme, up.Method, up.Body, up.Header.Get("User-Agent"))
			}
		}
	})

	t.Run("report upload refused", func(t *testing.T) {
		f := newTestFetcher(t, phone)
		err := f.Upload(t.Context(), UploadRequest{Target: at(plain, "/spa942.cfg"), Body: []byte("x")})
		var se *StatusError
		if !errors.As(err, &se) || se.Code != 405 {
			t.Fatalf("Upload() error = %v, want 405 from a static location", err)
		}
	})
}
