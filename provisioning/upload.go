package provisioning

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// UploadRequest is one report upload (SPA-BEHAVIOUR §4.5).
type UploadRequest struct {
	// Target is where the report goes: a TFTP file (written with a WRQ) or an HTTP/HTTPS URL
	// (POSTed to).
	Target Target
	// Body is the report: the <flat-profile> XML, encrypted when Report_Rule has --key.
	Body []byte
	// User and Password are the --uid/--pwd credentials of Report_Rule (DECISIONS 13), used
	// for HTTP and HTTPS as in [Request]; ignored by TFTP.
	User, Password string
}

// Upload sends a report (SPA-BEHAVIOUR §4.5): TFTP PUT (a WRQ of Target.Path) or HTTP/HTTPS
// POST, with the same User-Agent, source address, TLS rules and bounds as [Fetcher.Fetch].
// It makes exactly one attempt: the device does not retry a report. A POST succeeds on any
// 2xx answer. Failures are [*FetchError]s with Op "tftp_put", "http_post" or "https_post".
func (f *Fetcher) Upload(ctx context.Context, req UploadRequest) error {
	t := req.Target.withDefaults()
	op := t.Scheme + "_post"
	if t.Scheme == "tftp" {
		op = "tftp_put"
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var err error
	switch {
	case t.Host == "":
		err = fmt.Errorf("%w: no server", ErrUnsupported)
	case t.Scheme == "tftp":
		err = f.tftpPut(ctx, t, req.Body)
	case t.Scheme == "http" || t.Scheme == "https":
		err = f.httpPost(ctx, t, req.Body, req.User, req.Password)
	default:
		err = fmt.Errorf("%w: scheme %q", ErrUnsupported, t.Scheme)
	}
	if err != nil {
		return &FetchError{URL: t.String(), Op: op, Err: classify(ctx, err)}
	}
	f.log.Debug("uploaded", zap.String("url", t.String()), zap.Int("bytes", len(req.Body)),
		zap.Duration("took", time.Since(start)))
	return nil
}
