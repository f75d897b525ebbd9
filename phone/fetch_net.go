package phone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
)

// netFetcher is the real network, through a provisioning.Fetcher made for one boot (the
// User-Agent carries the running firmware version).
type netFetcher struct {
	f     *provisioning.Fetcher
	limit *Limiter // nil: none
}

// Limiter bounds how many provisioning transfers (fetches, uploads) the phones that share it
// run at once: a fleet gives all its phones one, sized to the open files its limit leaves
// once every phone holds its own ([Options.Transfers]). A transfer waits for a slot, and a
// storm of ten thousand phones then runs as fast as the slots turn over instead of failing
// with "too many open files". The zero value is not usable; see [NewLimiter].
type Limiter struct {
	slots chan struct{}
}

// NewLimiter returns a limiter of n transfers at once (at least 1).
func NewLimiter(n int) *Limiter { return &Limiter{slots: make(chan struct{}, max(n, 1))} }

// Size returns how many transfers run at once.
func (l *Limiter) Size() int { return cap(l.slots) }

// acquire waits for a slot, or for ctx.
func (l *Limiter) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Limiter) release() {
	if l != nil {
		<-l.slots
	}
}

func target(u *provisioning.URL) provisioning.Target {
	return provisioning.Target{Scheme: u.Scheme, Host: u.Host, Port: u.Port, Path: u.Path}
}

func (n netFetcher) fetch(ctx context.Context, req fetchRequest) (fetched, error) {
	if err := n.limit.acquire(ctx); err != nil {
		return fetched{}, err
	}
	defer n.limit.release()
	r := provisioning.Request{Target: target(req.URL), User: req.User, Password: req.Password, MaxSize: req.MaxSize, Buffer: req.Buffer}
	if req.Body != nil {
		r.Method, r.Body = http.MethodPost, req.Body
	}
	resp, err := n.f.Fetch(ctx, r)
	if err != nil {
		var fe *provisioning.FetchError
		if errors.As(err, &fe) {
			return fetched{url: fe.Redirected}, err
		}
		return fetched{}, err
	}
	got := fetched{body: resp.Body}
	if resp.ServerIP.IsValid() {
		got.serverIP = resp.ServerIP.String()
	}
	if resp.Redirected {
		got.url = resp.URL
	}
	return got, nil
}

func (n netFetcher) upload(ctx context.Context, u *provisioning.URL, body []byte, user, password string) error {
	if err := n.limit.acquire(ctx); err != nil {
		return err
	}
	defer n.limit.release()
	return n.f.Upload(ctx, provisioning.UploadRequest{Target: target(u), Body: body, User: user, Password: password})
}

// tlsMaterial is the unit's HTTPS trust and client certificate, loaded once.
type tlsMaterial struct {
	roots *x509.CertPool
	cert  *tls.Certificate
}

// loadTLS reads the CA bundle and the client certificate named by the options.
func loadTLS(o ProvisioningOptions) (tlsMaterial, error) {
	var m tlsMaterial
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return m, fmt.Errorf("CA file: %w", err)
		}
		m.roots = x509.NewCertPool()
		if !m.roots.AppendCertsFromPEM(pem) {
			return m, fmt.Errorf("CA file %s: no PEM certificate in it", o.CAFile)
		}
	}
	if o.ClientCert != "" || o.ClientKey != "" {
		if o.ClientCert == "" || o.ClientKey == "" {
			return m, errors.New("client certificate and key go together")
		}
		c, err := tls.LoadX509KeyPair(o.ClientCert, o.ClientKey)
		if err != nil {
			return m, fmt.Errorf("client certificate: %w", err)
		}
		m.cert = &c
	}
	return m, nil
}

// newNetFetcher builds the fetcher of one boot: from the phone's own address, with its
// User-Agent (SPA-BEHAVIOUR §7.1).
func newNetFetcher(o *Options, m tlsMaterial, id Identity, log *zap.Logger) (fetcher, error) {
	cfg := provisioning.FetcherConfig{
		UserAgent: id.HTTPUserAgent(), RootCAs: m.roots, ClientCert: m.cert,
		InsecureSkipVerify: o.Provisioning.Insecure, Logger: log.Named("fetch"),
		Timeout: max(o.Provisioning.FetchTimeout, 0),
	}
	if ip, err := netip.ParseAddr(o.IP); err == nil && !ip.IsUnspecified() {
		cfg.LocalAddr = ip
	}
	f, err := provisioning.NewFetcher(cfg)
	if err != nil {
		return nil, err
	}
	return netFetcher{f: f, limit: o.Transfers}, nil
}
