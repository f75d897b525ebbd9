package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spa900/spa900/webui"
)

// runHealth is `spa900 health`: it asks a phone's web server (or a fleet's listener) whether
// the phone is in service and exits 0 when it is (HTTP 200), 1 otherwise. The container
// image has no shell and no curl, so its HEALTHCHECK runs this. By default it asks the
// server of --http, read like the phone's own flag (SPA900_HTTP), with an unspecified host
// (0.0.0.0, ::) asked on loopback.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 health", stderr)
	httpAddr := fs.String("http", "127.0.0.1:8080", "address of the phone's web server, as given to the phone")
	url := fs.String("url", "", "URL to ask instead (a fleet: http://HOST:PORT"+webui.HealthPath+" of --listen)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("health: unexpected argument %q", fs.Arg(0))
	}
	target := *url
	if target == "" {
		host, port, err := net.SplitHostPort(*httpAddr)
		if err != nil {
			return usagef("--http: %q is not HOST:PORT", *httpAddr)
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
			if ip != nil && ip.To4() == nil {
				host = "::1"
			}
		}
		target = "http://" + net.JoinHostPort(host, port) + webui.HealthPath
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", target, resp.Status, text)
	}
	fmt.Fprintln(stdout, text)
	return nil
}
