package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pin/tftp/v3"
	"go.uber.org/zap"
)

// TFTP as the device speaks it (SPA-BEHAVIOUR §7.3): a plain RFC 1350 read (RRQ) or write
// (WRQ) request for the path exactly as written in the rule, leading slash included, in octet
// mode, with 512-byte blocks and no RFC 2347 options (the device's use of blksize/tsize is
// unknown; plain blocks are what every server accepts) [inf].
//
// The path is sent as written, "../" included: the device does not normalise it, and a TFTP
// server is the one that decides what a name may reach (tftpd-hpa confines every name to its
// root with --secure). A provisioning server that sets Profile_Rule to tftp://…/../x gets a
// request for "/../x".
//
// pin/tftp has no context: a transfer is bounded by TFTPTimeout × (TFTPRetries+1) for each
// exchange, and runs on its own goroutine so that a cancelled or expired context returns at
// once. That goroutine notices the context at the next block and aborts the transfer; while
// it waits for a silent server it lives at most TFTPTimeout × (TFTPRetries+1) longer.

// tftpGet downloads t by TFTP, trying the server's addresses in turn while they do not answer
// (§2.2 "multiply resolved").
func (f *Fetcher) tftpGet(ctx context.Context, t Target, limit int64) (*Response, error) {
	var resp *Response
	err := f.tftpEach(ctx, t, func(c *tftp.Client, addr netip.Addr) error {
		body, err := tftpRun(ctx, func() ([]byte, error) {
			sink := &tftpSink{ctx: ctx, limit: limit}
			wt, err := c.Receive(t.Path, "octet")
			if err == nil {
				_, err = wt.WriteTo(sink)
			}
			return sink.buf.Bytes(), err
		})
		if err != nil {
			return err
		}
		resp = &Response{Body: body, ServerIP: addr, Port: t.Port, URL: t.String()}
		return nil
	})
	return resp, err
}

// tftpPut uploads body to t by TFTP (a WRQ: SPA-BEHAVIOUR §4.5 "TFTP PUT").
func (f *Fetcher) tftpPut(ctx context.Context, t Target, body []byte) error {
	return f.tftpEach(ctx, t, func(c *tftp.Client, _ netip.Addr) error {
		_, err := tftpRun(ctx, func() ([]byte, error) {
			rf, err := c.Send(t.Path, "octet")
			if err == nil {
				_, err = rf.ReadFrom(&ctxReader{ctx: ctx, r: bytes.NewReader(body)})
			}
			return nil, err
		})
		return err
	})
}

// tftpEach resolves t.Host and runs do with a client for each address in turn, moving on
// only when a server did not answer at all.
func (f *Fetcher) tftpEach(ctx context.Context, t Target, do func(*tftp.Client, netip.Addr) error) error {
	if t.Port <= 0 || t.Port > 65535 {
		return fmt.Errorf("%w: port %d", ErrUnsupported, t.Port)
	}
	addrs, err := f.resolve(ctx, t.Host)
	if err != nil {
		return err
	}
	for i, addr := range addrs {
		c, err := tftp.NewClient(netip.AddrPortFrom(addr, uint16(t.Port)).String())
		if err != nil {
			return err
		}
		c.SetTimeout(f.cfg.TFTPTimeout)
		c.SetRetries(f.cfg.TFTPRetries)
		// The wait for an answer is the backoff already; the library's default adds a random
		// sleep of up to a second per retransmission.
		c.SetBackoff(func(int) time.Duration { return 0 })
		if ip := f.sourceIP(); ip != nil {
			if err := c.SetLocalAddr(ip.String()); err != nil {
				return err
			}
		}
		err = do(c, addr)
		if err == nil || !noAnswer(err) || ctx.Err() != nil || i == len(addrs)-1 {
			return tftpError(err)
		}
		f.log.Debug("tftp server did not answer, trying the next address",
			zap.Stringer("server_ip", addr), zap.Error(err))
	}
	return nil // not reached: resolve returns at least one address or an error
}

// tftpRun runs a blocking pin/tftp transfer on its own goroutine and returns when it ends or
// ctx is done, whichever comes first.
func tftpRun(ctx context.Context, transfer func() ([]byte, error)) ([]byte, error) {
	done := make(chan tftpResult, 1)
	go func() {
		b, err := transfer()
		done <- tftpResult{b, err}
	}()
	return awaitTransfer(ctx, done)
}

// tftpResult is what a transfer goroutine reports.
type tftpResult struct {
	body []byte
	err  error
}

// awaitTransfer waits for a transfer's result or ctx's end. A transfer that ended as ctx did
// still counts: its result was sent, and select picks at random between two ready cases.
func awaitTransfer(ctx context.Context, done <-chan tftpResult) ([]byte, error) {
	var r tftpResult
	select {
	case r = <-done:
	case <-ctx.Done():
		select {
		case r = <-done:
		default:
			return nil, ctx.Err()
		}
	}
	if r.err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return r.body, r.err
}

// noAnswer reports whether err means the server never answered (a timeout after all
// retransmissions), the case where the next address of a name is worth a try.
func noAnswer(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tftpSink collects a download, enforcing the size limit block by block and aborting the
// transfer once ctx is done.
type tftpSink struct {
	ctx   context.Context //nolint:containedctx // lives for one transfer only
	limit int64
	buf   bytes.Buffer
}

func (s *tftpSink) Write(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(s.buf.Len())+int64(len(p)) > s.limit {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.limit)
	}
	return s.buf.Write(p)
}

// ctxReader stops an upload once ctx is done.
type ctxReader struct {
	ctx context.Context //nolint:containedctx // lives for one transfer only
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// maxTFTPErrorText bounds the text of a TFTP ERROR packet kept in a [TFTPError].
const maxTFTPErrorText = 128

// tftpError turns the ERROR packet reports of pin/tftp into a [*TFTPError]; other errors pass
// unchanged. pin/tftp v3.2.0 reports a server's ERROR packet only as text, in two shapes:
// "code: 1, message: File not found" (reads) and "sending block 0: code=2, error: Access
// violation" (writes). Reading that text is the only way to get the code (RFC 1350 §5).
func tftpError(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s := err.Error()
	for _, form := range [...]struct{ code, msg string }{
		{"code: ", ", message: "},
		{"code=", ", error: "},
	} {
		_, rest, ok := strings.Cut(s, form.code)
		if !ok {
			continue
		}
		num, msg, ok := strings.Cut(rest, form.msg)
		if !ok {
			continue
		}
		code, cerr := strconv.Atoi(num)
		if cerr != nil || code < 0 || code > 0xffff {
			continue
		}
		// The text is the server's: it goes into $ERR, the status and syslog, so no
		// control character of it may pass (a CR LF would forge a syslog line).
		return &TFTPError{Code: code, Message: CleanText(strings.TrimRight(msg, "\x00"), maxTFTPErrorText)}
	}
	return err
}
