package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// KeepAlive sends one NAT keep-alive (SPA-BEHAVIOUR §8.5 NAT_Keep_Alive_Msg_n_ and _Dest_n_)
// from the extension's socket, so that a NAT on the way keeps the mapping the proxy's
// requests come back through: "$NOTIFY" and "$OPTIONS" send that request (Event: keep-alive
// for NOTIFY) outside any transaction — no retransmission, the answer is not awaited — and
// any other text goes as one datagram as it is. "$REGISTER" is a registration refresh, which
// is the caller's (it knows the expiry): KeepAlive does nothing for it.
func (a *Agent) KeepAlive(ctx context.Context) error {
	if a.closed.Load() {
		return ErrClosed
	}
	msg := a.cfg.KeepAliveMsg
	if strings.EqualFold(msg, "$REGISTER") {
		return nil
	}
	dest, err := a.keepAliveDest(ctx)
	if err != nil {
		return err
	}
	var method sipmsg.RequestMethod
	switch strings.ToUpper(msg) {
	case "$NOTIFY", "":
		method = sipmsg.NOTIFY
	case "$OPTIONS":
		method = sipmsg.OPTIONS
	default:
		var err error
		if a.streams != nil {
			err = a.streams.write(ctx, dest, a.tlsName(dest), []byte(msg))
		} else {
			_, err = a.conn.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(dest))
		}
		if err != nil {
			return fmt.Errorf("keep-alive to %s: %w", dest, err)
		}
		return nil
	}
	to := sipmsg.Uri{Scheme: "sip", Host: a.proxy.host, Port: a.proxy.port}
	if !a.hasProxy {
		to = sipmsg.Uri{Scheme: "sip", Host: dest.Addr().String(), Port: int(dest.Port())}
	}
	req := a.newRequest(method, to, to, newCallID(a.cfg.IP.String()), newTag('o', a.cfg.Ext), newCSeq(), a.cfg.UserAgent)
	if method == sipmsg.NOTIFY {
		req.AppendHeader(sipmsg.NewHeader("Event", "keep-alive"))
	}
	req.SetBody(nil)
	if err := a.prepare(ctx, req, dest); err != nil {
		return fmt.Errorf("keep-alive: %w", err)
	}
	if err := a.client().WriteRequest(req, noBuild); err != nil {
		return fmt.Errorf("keep-alive to %s: %w", dest, err)
	}
	return nil
}

// keepAliveDest resolves NAT_Keep_Alive_Dest_n_: "$PROXY" (or empty) is where requests go.
func (a *Agent) keepAliveDest(ctx context.Context) (netip.AddrPort, error) {
	d := strings.TrimSpace(a.cfg.KeepAliveDest)
	if d == "" || strings.EqualFold(d, "$PROXY") {
		ts, err := a.targets(ctx)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return ts[0], nil
	}
	spec, _, err := parseProxy(d)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ts, err := a.res.resolve(ctx, spec)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ts[0], nil
}
