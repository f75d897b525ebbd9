package provisioning

import (
	"net"
	"strconv"
	"strings"
)

// Schemes of a rule URL (SPA-BEHAVIOUR §2.2).
const (
	SchemeTFTP  = "tftp"
	SchemeHTTP  = "http"
	SchemeHTTPS = "https"
)

// URL is a parsed, macro-expanded rule URL: `[scheme://][server[:port]]/path` with every
// default filled in (SPA-BEHAVIOUR §2.2). It also feeds the macros $SCHEME, $METH, $SERV,
// $PORT and $PATH (§3).
type URL struct {
	// Scheme is "tftp", "http" or "https", lower case.
	Scheme string
	// Host is the server name or IP address, without brackets for IPv6.
	Host string
	// Port is the explicit port, or the scheme's default: 69, 80 or 443.
	Port int
	// Path starts with "/" and includes the query string, if any.
	Path string
}

// DefaultPort returns the port used when a URL of the scheme names none: 69 for TFTP, 80 for
// HTTP, 443 for HTTPS, 0 for anything else.
func DefaultPort(scheme string) int {
	switch scheme {
	case SchemeTFTP:
		return 69
	case SchemeHTTP:
		return 80
	case SchemeHTTPS:
		return 443
	}
	return 0
}

// ParseURL parses a macro-expanded rule URL (SPA-BEHAVIOUR §2.2):
//
//   - the scheme is tftp, http or https (any case); without one, tftp is assumed;
//   - without a server, defaultHost is used: the TFTP server of DHCP option 66 for rules, or the
//     host that sent the request for the web action URLs. defaultHost may carry a port
//     ("10.0.0.1:6969"). When defaultHost is empty the error is [ErrNoServer] (DECISIONS 14);
//   - without a port, the scheme's default applies (69, 80, 443);
//   - the path must start with "/" (there are no relative URLs) and may carry a query string.
//
// A URL without a scheme is read as a server when it does not start with "/", as in
// `192.168.1.130/profiles/init.cfg`. IPv6 servers are written in brackets. User information
// (`user:pass@`) is refused: credentials belong in the --uid/--pwd options. White space and
// control characters are refused anywhere. Errors never quote the URL, which may hold secrets.
func ParseURL(raw string, defaultHost string) (*URL, error) {
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f {
			return nil, urlError("white space or control character in URL")
		}
	}
	if raw == "" {
		return nil, urlError("empty URL")
	}
	u := &URL{Scheme: SchemeTFTP}
	rest := raw
	if i := strings.Index(raw, "://"); i >= 0 && isSchemeName(raw[:i]) {
		u.Scheme = strings.ToLower(raw[:i])
		if DefaultPort(u.Scheme) == 0 {
			return nil, urlError("unsupported scheme " + strconv.Quote(u.Scheme) + " (want tftp, http or https)")
		}
		rest = raw[i+3:]
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return nil, urlError("no path: the file path must start with \"/\"")
	}
	hostport := rest[:slash]
	u.Path = rest[slash:]
	if hostport == "" {
		if defaultHost == "" {
			return nil, ErrNoServer
		}
		hostport = defaultHost
	}
	if strings.ContainsAny(hostport, "@?#") {
		return nil, urlError("user information or query before the path is not supported (use --uid and --pwd)")
	}
	host, port, err := splitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	u.Host = host
	u.Port = port
	if u.Port == 0 {
		u.Port = DefaultPort(u.Scheme)
	}
	return u, nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". Port 0 means none given.
func splitHostPort(hp string) (string, int, error) {
	host, portText := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", 0, urlError("IPv6 address without \"]\"")
		}
		host = hp[1:end]
		switch after := hp[end+1:]; {
		case after == "":
		case after[0] == ':':
			portText = after[1:]
			if portText == "" {
				return "", 0, urlError("empty port")
			}
		default:
			return "", 0, urlError("unexpected text after IPv6 address")
		}
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return "", 0, urlError("bad IPv6 address in brackets")
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, portText = hp[:i], hp[i+1:]
		if portText == "" {
			return "", 0, urlError("empty port")
		}
		if strings.IndexByte(host, ':') >= 0 {
			return "", 0, urlError("IPv6 address must be written in brackets")
		}
	}
	if host == "" {
		return "", 0, urlError("empty server name")
	}
	if strings.ContainsAny(host, "[]\"\\<>|%{}^`/@?#") || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", 0, urlError("bad character in server name")
	}
	if portText == "" {
		return host, 0, nil
	}
	if !allDigits(portText) || len(portText) > 5 {
		return "", 0, urlError("port must be a number")
	}
	port, _ := strconv.Atoi(portText)
	if port < 1 || port > 65535 {
		return "", 0, urlError("port out of range 1..65535")
	}
	return host, port, nil
}

func isSchemeName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

func urlError(msg string) error { return &SyntaxError{What: "url", Msg: msg} }

// HostPort returns "host:port", with brackets around an IPv6 host.
func (u *URL) HostPort() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// String returns the canonical form `scheme://host:port/path`, with the port always written,
// as in the default Log_Resync_Request_Msg `$SCHEME://$SERVIP:$PORT$PATH`.
func (u *URL) String() string {
	if u == nil {
		return ""
	}
	return u.Scheme + "://" + u.HostPort() + u.Path
}
