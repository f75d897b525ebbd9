package provisioning

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Defaults of [FetcherConfig].
const (
	// DefaultFetchTimeout bounds a whole fetch or upload: resolution, connection, TLS, request
	// and the complete body.
	DefaultFetchTimeout = 30 * time.Second
	// DefaultFetchMaxSize is the largest body a fetch accepts unless told otherwise: plenty for
	// a profile (a full SPA962 export is about 60 KB). Firmware downloads pass a larger
	// [Request.MaxSize].
	DefaultFetchMaxSize = 8 << 20
	// DefaultTFTPTimeout is how long the TFTP client waits for one answer before it
	// retransmits.
	DefaultTFTPTimeout = 2 * time.Second
	// DefaultTFTPRetries is how many times the TFTP client retransmits a packet that got no
	// answer before it gives up.
	DefaultTFTPRetries = 3
	// maxRedirects is how many HTTP redirects a fetch follows before it reports the last one
	// as a [StatusError].
	maxRedirects = 3
)

// Target is a parsed, macro-expanded provisioning URL: `scheme://host:port/path`
// (SPA-BEHAVIOUR §2.2). It has the shape of the rule parser's URL, so one converts to the
// other.
type Target struct {
	// Scheme is "tftp", "http" or "https"; empty means "tftp" (§2.2).
	Scheme string
	// Host is the server name or IP address, without brackets for IPv6. A name with several
	// addresses is tried address by address (§2.2 "multiply resolved").
	Host string
	// Port is the server port; 0 means the scheme's default (69, 80, 443).
	Port int
	// Path starts with "/" and may carry a query string ("/profile?Linksys000E08AABBCC").
	// TFTP requests it exactly as given, leading slash included (§7.3).
	Path string
}

// Request is one fetch.
type Request struct {
	// Target is what to fetch.
	Target Target
	// Method is "GET" (or empty) or "POST". POST is the --post option of SPA-BEHAVIOUR §2.4;
	// it exists only for HTTP and HTTPS.
	Method string
	// Body is the POST body: the macro-expanded GPP_x of --post.
	Body []byte
	// User and Password are the --uid/--pwd credentials (DECISIONS 13, an extension beyond
	// 5.1). They are sent only when the server asks: with Digest when the challenge offers it,
	// else with Basic. Ignored by TFTP.
	User, Password string
	// MaxSize overrides [FetcherConfig.MaxSize] for this request when > 0.
	MaxSize int64
	// Buffer, when set, is asked for where an HTTP(S) body is read, once the response's
	// headers have come and its status is a success, with the body's announced length (-1:
	// not announced, as when chunked). When the buffer it returns has room for the body (its
	// capacity), Response.Body is a slice of it, which the caller may reuse once it is done
	// with the body; else the body gets its own. Nil: a new one. Asked only then, a buffer
	// lent for the fetch is held while a body is read, not while the request waits for a
	// server: a fleet of thousands waits on little.
	Buffer func(size int64) []byte
}

// Response is a successful fetch.
type Response struct {
	// Body is the whole file.
	Body []byte
	// ServerIP is the address the file came from: $SERVIP (SPA-BEHAVIOUR §3).
	ServerIP netip.Addr
	// Port is the server port used: $PORT.
	Port int
	// ContentType is the HTTP Content-Type, empty for TFTP.
	ContentType string
	// URL is the redacted URL the body came from, after redirects: the one to report as
	// fetched.
	URL string
	// Redirected says whether HTTP redirects were followed to URL.
	Redirected bool
}

// FetcherConfig configures a [Fetcher]. The zero value works: kernel-chosen source address,
// the host's trust store, no client certificate, the defaults above.
type FetcherConfig struct {
	// LocalAddr is the phone's own IP address. Every TFTP and HTTP connection is made from
	// it, so that servers see one client per virtual phone. The zero value lets the kernel
	// choose.
	LocalAddr netip.Addr
	// UserAgent is the User-Agent of every HTTP request, built by the phone:
	// "Linksys/SPA-942-5.1.10 (88012BA01234)" (SPA-BEHAVIOUR §7.1, DECISIONS 4).
	UserAgent string
	// RootCAs are the trust anchors for HTTPS servers; nil uses the host's pool (§7.4).
	RootCAs *x509.CertPool
	// ClientCert is the phone's client certificate, presented whenever an HTTPS server asks
	// for one (§7.4). Nil presents none.
	ClientCert *tls.Certificate
	// InsecureSkipVerify accepts any HTTPS server certificate: the lab switch
	// --insecure-provisioning. Never the default.
	InsecureSkipVerify bool
	// Timeout bounds a whole fetch or upload; 0 means [DefaultFetchTimeout]. A context
	// deadline that comes earlier wins.
	Timeout time.Duration
	// MaxSize is the largest body accepted; 0 means [DefaultFetchMaxSize].
	MaxSize int64
	// TFTPTimeout is the TFTP retransmission timeout; 0 means [DefaultTFTPTimeout].
	TFTPTimeout time.Duration
	// TFTPRetries is how many times a TFTP packet is retransmitted when no answer comes, so
	// one exchange waits at most TFTPTimeout × (TFTPRetries+1); 0 means
	// [DefaultTFTPRetries].
	TFTPRetries int
	// Logger receives Debug lines about fetches (never a secret); nil discards.
	Logger *zap.Logger
}

// Fetcher downloads profiles and firmware and uploads reports over TFTP, HTTP and HTTPS on
// behalf of one phone. It keeps no connection between requests (each fetch opens its own,
// as the device does) and is safe for concurrent use.
type Fetcher struct {
	// immutable after NewFetcher
	cfg    FetcherConfig
	log    *zap.Logger
	tr     *oneShot
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error) // DNS; tests replace it
}

// NewFetcher builds a Fetcher from cfg, filling in the defaults.
func NewFetcher(cfg FetcherConfig) (*Fetcher, error) {
	if cfg.Timeout < 0 || cfg.MaxSize < 0 || cfg.TFTPTimeout < 0 || cfg.TFTPRetries < 0 {
		return nil, errors.New("fetcher config: negative timeout, size or retries")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultFetchTimeout
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = DefaultFetchMaxSize
	}
	if cfg.TFTPTimeout == 0 {
		cfg.TFTPTimeout = DefaultTFTPTimeout
	}
	if cfg.TFTPRetries == 0 {
		cfg.TFTPRetries = DefaultTFTPRetries
	}
	if cfg.LocalAddr.IsValid() {
		cfg.LocalAddr = cfg.LocalAddr.Unmap()
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	f := &Fetcher{cfg: cfg, log: log, lookup: (&net.Resolver{}).LookupNetIP}
	f.tr = f.newTransport()
	return f, nil
}

// Fetch downloads req.Target and returns the whole body. Failures are [*FetchError]s: see
// [ErrNotFound], [ErrTimeout], [ErrTooLarge], [ErrTruncated], [ErrTLS], [*StatusError] and
// [*TFTPError]; [ErrText] words them as $ERR. The fetch is bounded by ctx and by
// [FetcherConfig.Timeout].
func (f *Fetcher) Fetch(ctx context.Context, req Request) (*Response, error) {
	t := req.Target.withDefaults()
	post := strings.EqualFold(req.Method, http.MethodPost)
	if !post && req.Method != "" && !strings.EqualFold(req.Method, http.MethodGet) {
		return nil, &FetchError{URL: t.String(), Op: t.Scheme + "_get",
			Err: fmt.Errorf("%w: method %q", ErrUnsupported, req.Method)}
	}
	op := t.Scheme + "_get"
	if post {
		op = t.Scheme + "_post"
	}
	limit := req.MaxSize
	if limit <= 0 {
		limit = f.cfg.MaxSize
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var (
		resp  *Response
		final string
		err   error
	)
	switch {
	case t.Host == "":
		err = fmt.Errorf("%w: no server", ErrUnsupported)
	case t.Scheme == "tftp":
		if post {
			err = fmt.Errorf("%w: POST over tftp", ErrUnsupported)
			break
		}
		resp, err = f.tftpGet(ctx, t, limit)
	case t.Scheme == "http" || t.Scheme == "https":
		resp, final, err = f.httpDo(ctx, t, req, post, limit)
	default:
		err = fmt.Errorf("%w: scheme %q", ErrUnsupported, t.Scheme)
	}
	if err != nil {
		return nil, &FetchError{URL: t.String(), Redirected: final, Op: op, Err: classify(ctx, err)}
	}
	if ce := f.log.Check(zap.DebugLevel, "fetched"); ce != nil { // no fields built when off
		ce.Write(zap.String("url", resp.URL), zap.Stringer("server_ip", resp.ServerIP),
			zap.Int("bytes", len(resp.Body)), zap.Duration("took", time.Since(start)))
	}
	return resp, nil
}

// withDefaults fills in the scheme (tftp) and the scheme's default port.
func (t Target) withDefaults() Target {
	t.Scheme = strings.ToLower(t.Scheme)
	if t.Scheme == "" {
		t.Scheme = "tftp"
	}
	if t.Port == 0 {
		switch t.Scheme {
		case "tftp":
			t.Port = 69
		case "http":
			t.Port = 80
		case "https":
			t.Port = 443
		}
	}
	return t
}

// String formats the target as a URL: "tftp://10.0.0.1:69/spa942.cfg". It never holds
// credentials, which are not part of a Target.
func (t Target) String() string {
	s := t.Scheme + "://" + t.hostPort()
	return s + t.Path
}

// hostPort is host:port with IPv6 brackets.
func (t Target) hostPort() string {
	if t.Port == 0 {
		if strings.Contains(t.Host, ":") {
			return "[" + t.Host + "]"
		}
		return t.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// classify maps what went wrong onto the sentinels: an answer from the server stays what it
// is; otherwise a passed deadline is ErrTimeout whatever the layer that noticed it, and a
// cancelled context stays context.Canceled.
func classify(ctx context.Context, err error) error {
	var (
		se *StatusError
		te *TFTPError
	)
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrTooLarge), errors.Is(err, ErrTruncated),
		errors.Is(err, ErrTLS), errors.Is(err, ErrUnsupported), errors.As(err, &se), errors.As(err, &te):
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

// sourceIP is the address connections are made from, or nil for the kernel's choice.
func (f *Fetcher) sourceIP() net.IP {
	if !f.cfg.LocalAddr.IsValid() {
		return nil
	}
	return net.IP(f.cfg.LocalAddr.AsSlice())
}

// network narrows "tcp"/"udp" to the family of LocalAddr, so that a name with IPv4 and IPv6
// addresses is reached over the family the phone has.
func (f *Fetcher) network(base string) string {
	switch {
	case !f.cfg.LocalAddr.IsValid():
		return base
	case f.cfg.LocalAddr.Is4():
		return base + "4"
	default:
		return base + "6"
	}
}

// resolve returns the addresses of host in the order the resolver gives them, of the family
// of LocalAddr.
func (f *Fetcher) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := f.lookup(ctx, f.network("ip"), host)
	if err != nil {
		return nil, err
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}
