package phone

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// syslogTargets returns the UDP destinations of the phone's log messages: Syslog_Server and
// Debug_Server, each "host[:port]" with 514 by default (DECISIONS 22).
func syslogTargets(servers ...string) []string {
	var out []string
	for _, s := range servers {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(strings.Trim(s, "[]"), "514")
		}
		out = append(out, s)
	}
	return out
}

// formatSyslog writes an RFC 3164 message: <PRI>TIMESTAMP HOSTNAME TAG: MSG, facility local0,
// severity notice (PRI 133), as the SPA's provisioning messages are informational.
//
// Nothing in it may end the line or shape the header: host is the phone's HostName only when
// it is a plain host name (it is a value the user account may write), else the phone's
// address (RFC 3164 §4.1.2 allows either); msg, an expanded Log_* template whose macros carry
// values a provisioning server set ($ERR, $A…), has its control characters made spaces. The
// datagram is at most 1024 bytes (§4.1).
func formatSyslog(at time.Time, host, ip, msg string) []byte {
	const pri = 16*8 + 5 // local0.notice
	ts := at.Format(time.Stamp)
	head := "<" + strconv.Itoa(pri) + ">" + ts + " " + syslogHost(host, ip) + " "
	return []byte(head + provisioning.CleanText(msg, maxSyslogLen-len(head)-len("…")))
}

// maxSyslogLen is the longest datagram RFC 3164 §4.1 allows.
const maxSyslogLen = 1024

// syslogHost is the HOSTNAME of the phone's syslog header: its HostName when that is a host
// name (letters, digits, '-', '_' and '.', up to 63 bytes), else its IP address.
func syslogHost(name, ip string) string {
	ok := name != "" && len(name) <= 63
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	switch {
	case ok:
		return name
	case ip != "":
		return ip
	}
	return "-"
}

// sendSyslog sends msg to each target over UDP from the phone's own address. It is best
// effort, as syslog over UDP is: errors are returned for the caller's one log line.
func sendSyslog(ctx context.Context, localIP string, targets []string, payload []byte) error {
	var firstErr error
	for _, t := range targets {
		d := net.Dialer{Timeout: 2 * time.Second}
		if ip := net.ParseIP(localIP); ip != nil && !ip.IsUnspecified() {
			d.LocalAddr = &net.UDPAddr{IP: ip}
		}
		conn, err := d.DialContext(ctx, "udp", t)
		if err == nil {
			_, err = conn.Write(payload)
			conn.Close()
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("syslog to %s: %w", t, err)
		}
	}
	return firstErr
}

// syslogOut sends the phone's Log_* messages (DECISIONS 22). It is built on the loop from the
// configuration in force and used off it: sending is network I/O.
type syslogOut struct {
	targets []string
	localIP string
	host    string
	clock   Clock
	log     *zap.Logger
}

// syslogOut returns the sender of the configuration in force.
func (st *state) syslogOut() syslogOut {
	return syslogOut{
		targets: syslogTargets(st.snap.Get(config.SyslogServer), st.snap.Get(config.DebugServer)),
		localIP: st.p.opts.IP, host: st.hostName(), clock: st.p.clock, log: st.p.log,
	}
}

// send expands a Log_* template with vars and sends it; a failure is logged, as the message
// itself is best effort.
func (s syslogOut) send(ctx context.Context, template string, vars *provisioning.Vars) {
	if len(s.targets) == 0 {
		return
	}
	msg := provisioning.Expand(template, vars)
	if msg == "" {
		return
	}
	if err := sendSyslog(ctx, s.localIP, s.targets, formatSyslog(s.clock.Now(), s.host, s.localIP, msg)); err != nil {
		s.log.Warn("syslog not sent", zap.Error(err))
	}
}
