package phone

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// fetchRequest is one download of a profile or firmware image.
type fetchRequest struct {
	URL      *provisioning.URL
	Body     []byte // POST body (--post); nil means GET
	User     string // --uid/--pwd (an extension, DECISIONS 13)
	Password string
	MaxSize  int64 // 0: the fetcher's default
	// Buffer is asked for where the body is read, once it comes
	// ([provisioning.Request.Buffer]).
	Buffer func(size int64) []byte
}

// fetched is what a download brought: the body, the address of the server it came from
// ($SERVIP), and the URL it ended at when it followed HTTP redirects ("" when it followed
// none), set on failure too: that URL is the one the logs and last_url name.
type fetched struct {
	body     []byte
	serverIP string
	url      string
}

// fetcher is what the phone needs of the network: download and upload over TFTP, HTTP and
// HTTPS, from the phone's own address with its User-Agent.
type fetcher interface {
	fetch(ctx context.Context, req fetchRequest) (fetched, error)
	upload(ctx context.Context, u *provisioning.URL, body []byte, user, password string) error
}

// fetcher returns the phone's fetcher; its downloads' latencies are counted
// ([Counters.EachFetchLatency]).
func (p *Phone) fetcher() fetcher { return timedFetcher{fetcher: p.net, c: p.opts.Counters} }

// timedFetcher counts the latency of every download, by scheme and outcome.
type timedFetcher struct {
	fetcher
	c *Counters
}

func (t timedFetcher) fetch(ctx context.Context, req fetchRequest) (fetched, error) {
	start := time.Now() // real time: a latency, not a policy
	f, err := t.fetcher.fetch(ctx, req)
	t.c.fetched(req.URL.Scheme, err, time.Since(start))
	return f, err
}

// requestReport sends the full configuration to Report_Rule once: HTTP(S) POST or TFTP write,
// encrypted with --key when given (SPA-BEHAVIOUR §4.5). The result is logged and published.
func (st *state) requestReport() error {
	text := st.snap.Get(config.ReportRule)
	rule, err := provisioning.ParseRule(text, provisioning.ReportRule)
	if err != nil {
		return fmt.Errorf("%w: Report_Rule: %w", ErrInvalidRequest, err)
	}
	vars := st.vars()
	alt, ok, err := rule.Select(vars)
	if err != nil || !ok || alt.URL == "" {
		return fmt.Errorf("%w: Report_Rule selects no URL", ErrInvalidRequest)
	}
	opts := alt.Options.Expand(vars)
	u, err := provisioning.ParseURL(alt.ExpandURL(vars), st.p.opts.TFTPServer)
	if err != nil {
		return fmt.Errorf("%w: Report_Rule: %w", ErrInvalidRequest, err)
	}
	var buf bytes.Buffer
	info := st.info(st.p.clock.Now())
	if err := st.snap.WriteXML(&buf, config.ExportOptions{Info: &info}); err != nil {
		return err
	}
	body := buf.Bytes()
	if opts.HasKey {
		if body, err = provisioning.Encrypt(body, opts.Key, rand.Reader); err != nil {
			return err
		}
	}
	f, log, ctx := st.p.fetcher(), st.p.log, st.ctx
	emit := st.p.emit
	st.p.goTracked(func() {
		err := f.upload(ctx, u, body, opts.UID, opts.Pwd)
		result := "success"
		if err != nil {
			result = "failure"
			log.Warn("report failed", zap.String("url", u.String()), zap.String("err", errText(err)))
		} else {
			log.Info("report sent", zap.String("url", u.String()), zap.Int("bytes", len(body)), zap.Bool("encrypted", opts.HasKey))
		}
		emit(EventReport, map[string]any{"url": u.String(), "result": result, "err": errText(err), "bytes": len(body)})
	})
	return nil
}

// isNotFound reports whether a fetch failed with "file not found" (HTTP 404, TFTP error 1):
// the FNF of Resync_Fails_On_FNF (SPA-BEHAVIOUR §2.3).
func isNotFound(err error) bool { return errors.Is(err, provisioning.ErrNotFound) }
