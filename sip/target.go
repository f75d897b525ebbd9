package sip

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// proxySpec is a Proxy_n_ (or Outbound_Proxy_n_) setting, read (SPA-BEHAVIOUR §8.5):
//
//	host              a name or address; DNS SRV when enabled, else A on port 5060
//	host:port         A (or the address itself) on that port
//	name:SRV=h:p:p=0:w=1|h2:p2:p=1
//	                  the domain "name" with a static SRV list: targets h:p with priority
//	                  p= (lower first) and weight w= (higher first within a priority),
//	                  as Wazo's template writes primary and backup proxies
type proxySpec struct {
	host   string // the domain, as URIs carry it
	port   int    // 0: none given
	static []srvTarget
}

type srvTarget struct {
	host         string
	port         int
	prio, weight int
	position     int
}

// hostport returns the domain with its port, as a Request-URI carries it.
func (p proxySpec) hostport() string {
	if p.port == 0 {
		return p.host
	}
	return net.JoinHostPort(p.host, strconv.Itoa(p.port))
}

// parseProxy reads a proxy setting; "" is no proxy (ok false).
func parseProxy(s string) (spec proxySpec, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return proxySpec{}, false, nil
	}
	name, list, hasList := strings.Cut(s, ":SRV=")
	if !hasList {
		name, list, hasList = cutFold(s, ":srv=")
	}
	h, port, err := splitHostPort(name)
	if err != nil {
		return proxySpec{}, false, fmt.Errorf("%w: %q: %w", ErrBadProxy, s, err)
	}
	spec = proxySpec{host: h, port: port}
	if hasList {
		for i, item := range strings.Split(list, "|") {
			t, err := parseSRVItem(item)
			if err != nil {
				return proxySpec{}, false, fmt.Errorf("%w: %q: SRV entry %d: %w", ErrBadProxy, s, i+1, err)
			}
			t.position = i
			spec.static = append(spec.static, t)
		}
		if len(spec.static) == 0 {
			return proxySpec{}, false, fmt.Errorf("%w: %q: empty SRV list", ErrBadProxy, s)
		}
	}
	return spec, true, nil
}

func cutFold(s, sep string) (before, after string, found bool) {
	i := strings.Index(strings.ToLower(s), sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// parseSRVItem reads "host[:port][:p=N][:w=N]".
func parseSRVItem(item string) (srvTarget, error) {
	item = strings.TrimSpace(item)
	var t srvTarget
	var rest []string
	if strings.HasPrefix(item, "[") { // [v6]:port...
		end := strings.Index(item, "]")
		if end < 0 {
			return t, fmt.Errorf("unclosed [")
		}
		t.host = item[1:end]
		rest = strings.Split(strings.TrimPrefix(item[end+1:], ":"), ":")
	} else {
		parts := strings.Split(item, ":")
		t.host, rest = parts[0], parts[1:]
	}
	if t.host == "" {
		return t, fmt.Errorf("no host")
	}
	for _, f := range rest {
		switch {
		case f == "":
		case strings.HasPrefix(f, "p="):
			n, err := strconv.Atoi(f[2:])
			if err != nil || n < 0 {
				return t, fmt.Errorf("bad priority %q", f)
			}
			t.prio = n
		case strings.HasPrefix(f, "w="):
			n, err := strconv.Atoi(f[2:])
			if err != nil || n < 0 {
				return t, fmt.Errorf("bad weight %q", f)
			}
			t.weight = n
		default:
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 || n > 65535 || t.port != 0 {
				return t, fmt.Errorf("bad field %q", f)
			}
			t.port = n
		}
	}
	return t, nil
}

// splitHostPort reads host, host:port, [v6] or [v6]:port.
func splitHostPort(s string) (string, int, error) {
	if s == "" {
		return "", 0, fmt.Errorf("no host")
	}
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", 0, fmt.Errorf("unclosed [")
		}
		host, rest := s[1:end], s[end+1:]
		if rest == "" {
			return host, 0, nil
		}
		p, err := parsePort(strings.TrimPrefix(rest, ":"))
		return host, p, err
	}
	host, port, found := strings.Cut(s, ":")
	if !found {
		return s, 0, nil
	}
	if strings.Contains(port, ":") { // a bare IPv6 address
		if _, err := netip.ParseAddr(s); err == nil {
			return s, 0, nil
		}
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	if host == "" {
		return "", 0, fmt.Errorf("no host")
	}
	p, err := parsePort(port)
	return host, p, err
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return n, nil
}

// resolver finds the addresses a proxy setting stands for, in the order to try them.
type resolver struct {
	r         *net.Resolver
	srv       bool // Use_DNS_SRV_n_
	autoPfx   bool // DNS_SRV_Auto_Prefix_n_
	transport Transport
}

// resolve returns the proxy's addresses in the order the phone tries them: a static SRV list
// by priority and weight; a name by SRV (when enabled, falling back to A) or A; IPv4 first.
func (rs *resolver) resolve(ctx context.Context, p proxySpec) ([]netip.AddrPort, error) {
	if len(p.static) > 0 {
		ts := slices.Clone(p.static)
		slices.SortStableFunc(ts, func(a, b srvTarget) int {
			return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(b.weight, a.weight), cmp.Compare(a.position, b.position))
		})
		var out []netip.AddrPort
		var firstErr error
		for _, t := range ts {
			addrs, err := rs.lookupA(ctx, t.host, cmp.Or(t.port, rs.defaultPort()))
			if err != nil {
				firstErr = cmp.Or(firstErr, err)
				continue
			}
			out = append(out, addrs...)
		}
		if len(out) == 0 {
			return nil, firstErr
		}
		return out, nil
	}
	if p.port == 0 && rs.srv {
		if _, err := netip.ParseAddr(p.host); err != nil {
			if out, err := rs.lookupSRV(ctx, p.host); err == nil && len(out) > 0 {
				return out, nil
			}
		}
	}
	return rs.lookupA(ctx, p.host, cmp.Or(p.port, rs.defaultPort()))
}

func (rs *resolver) lookupSRV(ctx context.Context, host string) ([]netip.AddrPort, error) {
	name := host
	if rs.autoPfx {
		name = rs.transport.srvPrefix() + host
	}
	_, srvs, err := rs.net().LookupSRV(ctx, "", "", name)
	if err != nil {
		return nil, fmt.Errorf("%w: SRV %s: %w", ErrResolve, name, err)
	}
	var out []netip.AddrPort
	for _, s := range srvs {
		addrs, err := rs.lookupA(ctx, strings.TrimSuffix(s.Target, "."), int(s.Port))
		if err == nil {
			out = append(out, addrs...)
		}
	}
	return out, nil
}

func (rs *resolver) lookupA(ctx context.Context, host string, port int) ([]netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ip.Unmap(), uint16(port))}, nil
	}
	ips, err := rs.net().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrResolve, host, err)
	}
	slices.SortStableFunc(ips, func(a, b netip.Addr) int {
		return cmp.Compare(b2i(b.Unmap().Is4()), b2i(a.Unmap().Is4())) // IPv4 first
	})
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no address", ErrResolve, host)
	}
	return out, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (rs *resolver) net() *net.Resolver {
	if rs.r != nil {
		return rs.r
	}
	return net.DefaultResolver
}

// defaultPort is the port of a proxy given without one: 5061 for TLS, else 5060 (RFC 3263 §4.2).
func (rs *resolver) defaultPort() int {
	if rs.transport == TransportTLS {
		return 5061
	}
	return 5060
}
