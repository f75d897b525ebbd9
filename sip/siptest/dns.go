package siptest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// SRV is one SRV record of [DNS].
type SRV struct {
	Target           string
	Port             uint16
	Priority, Weight uint16
}

// DNS is a small authoritative DNS server on 127.0.0.1 for tests of A and SRV lookups: names
// are matched case-insensitively, with or without the final dot.
type DNS struct {
	// Addr is where it answers (UDP).
	Addr string
	mu   sync.Mutex
	a    map[string][]netip.Addr
	srv  map[string][]SRV
	// Queries counts the questions received, per name and type ("_sip._udp.x.test. SRV").
	queries map[string]int
}

// StartDNS starts the server; it stops when the test ends.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dns: %v", err)
	}
	d := &DNS{Addr: c.LocalAddr().String(), a: map[string][]netip.Addr{}, srv: map[string][]SRV{}, queries: map[string]int{}}
	done := make(chan struct{})
	go d.serve(c, done)
	t.Cleanup(func() { c.Close(); <-done })
	return d
}

func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

// SetA sets the A records of name.
func (d *DNS) SetA(name string, addrs ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.a[fqdn(name)] = addrs
}

// SetSRV sets the SRV records of name (e.g. "_sip._udp.example.test").
func (d *DNS) SetSRV(name string, recs ...SRV) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.srv[fqdn(name)] = recs
}

// Queries returns how many questions of type typ ("A", "SRV") name got.
func (d *DNS) Queries(name, typ string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[fqdn(name)+" "+typ]
}

// Resolver returns a resolver that asks this server only.
func (d *DNS) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.Addr)
	}}
}

func (d *DNS) serve(c net.PacketConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		resp := d.answer(h, q)
		if out, err := resp.Pack(); err == nil {
			c.WriteTo(out, from)
		}
	}
}

func (d *DNS) answer(h dnsmessage.Header, q dnsmessage.Question) dnsmessage.Message {
	name := strings.ToLower(q.Name.String())
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries[name+" "+strings.TrimPrefix(q.Type.String(), "Type")]++
	m := dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true},
		Questions: []dnsmessage.Question{q}}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
	known := len(d.a[name]) > 0 || len(d.srv[name]) > 0
	switch q.Type {
	case dnsmessage.TypeA:
		for _, a := range d.a[name] {
			if a.Is4() {
				rh.Type = dnsmessage.TypeA
				m.Answers = append(m.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: a.As4()}})
			}
		}
	case dnsmessage.TypeSRV:
		for _, s := range d.srv[name] {
			target, err := dnsmessage.NewName(fqdn(s.Target))
			if err != nil {
				continue
			}
			rh.Type = dnsmessage.TypeSRV
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.SRVResource{
				Priority: s.Priority, Weight: s.Weight, Port: s.Port, Target: target}})
		}
	}
	if !known {
		m.Header.RCode = dnsmessage.RCodeNameError
	}
	return m
}
