package phone

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
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
func formatSyslog(at time.Time, host, msg string) []byte {
	const pri = 16*8 + 5 // local0.notice
	ts := at.Format(time.Stamp)
	return []byte("<" + strconv.Itoa(pri) + ">" + ts + " " + host + " " + msg)
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
