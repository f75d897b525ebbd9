package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/webui"
)

// runFleet runs --count phones in one process. Phone i has the i-th IP address from --ip
// (one loopback address each on Linux: 127.0.0.2, 127.0.0.3, …), the i-th MAC from --mac,
// its own flash under --data, and its web server on its own IP at --http-port, as a rack of
// real phones would.
func runFleet(ctx context.Context, args []string, stderr io.Writer) error {
	var f phoneFlags
	fs := flag.NewFlagSet("spa900 fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs, true)
	count := fs.Int("count", 10, "number of phones")
	httpPort := fs.Int("http-port", 8080, "port of each phone's web server, on the phone's own IP")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("fleet: unexpected argument %q", fs.Arg(0))
	}
	if *count < 1 || *count > 65536 {
		return usagef("--count: want 1 to 65536, got %d", *count)
	}
	if *httpPort < 1 || *httpPort > 65535 {
		return usagef("--http-port: want 1 to 65535, got %d", *httpPort)
	}
	firstIP, err := resolveIP(f.ip)
	if err != nil {
		return usagef("--ip: %q is not an IP address or auto (%v)", f.ip, err)
	}
	shared := f.ip == ipAuto // one address for all: a port each
	var firstMAC uint64
	if f.mac != "" {
		mac, err := phone.ParseMAC(f.mac)
		if err != nil {
			return usagef("--mac: %q is not a MAC address", f.mac)
		}
		firstMAC = macNumber(mac)
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()

	base, err := f.phoneOptions(log) // checks the shared flags once
	if err != nil {
		return err
	}
	wopts, err := f.webOptions(log)
	if err != nil {
		return err
	}
	opts := make([]phone.Options, *count)
	addrs := make([]string, *count)
	ip := firstIP
	for i := range opts {
		if !ip.IsValid() {
			return usagef("--ip: %s leaves no room for %d phones", f.ip, *count)
		}
		o := base
		port := *httpPort
		if shared {
			ip, port = firstIP, *httpPort+i
			if port > 65535 {
				return usagef("--http-port: %d leaves no room for %d phones on one address", *httpPort, *count)
			}
		}
		o.IP = ip.String()
		o.Clock = phone.NewScaledClock(f.clockSpeed)
		o.Flash = config.NewFileFlash(filepath.Join(f.data, fmt.Sprintf("phone-%04d", i+1), "flash.json"))
		if f.mac != "" {
			o.MAC = macString(firstMAC + uint64(i))
		}
		opts[i] = o
		addrs[i] = net.JoinHostPort(o.IP, strconv.Itoa(port))
		ip = ip.Next()
	}
	fleet, err := phone.NewFleet(opts, log)
	if err != nil {
		return err
	}
	sip.SetProcessLogger(log)
	sip.SetProcessTimers(phone.ProcessSIPTimers(fleet.Units(), log))
	log.Info("fleet starting", zap.Int("count", *count), zap.String("first_ip", firstIP.String()), zap.Int("http_port", *httpPort))
	var wg sync.WaitGroup
	errc := make(chan error, *count)
	for i, u := range fleet.Units() {
		o := wopts
		o.Logger = log.With(zap.String("phone", u.Status().MAC))
		srv := webui.NewServer(u, addrs[i], o)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("web server %s: %w", addrs[i], err)
			}
		}()
	}
	fleetDone := make(chan struct{})
	go func() { fleet.Run(ctx); close(fleetDone) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	<-fleetDone
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// macNumber and macString count MAC addresses.
func macNumber(mac net.HardwareAddr) uint64 {
	var b [8]byte
	copy(b[2:], mac)
	return binary.BigEndian.Uint64(b[:])
}

func macString(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return net.HardwareAddr(b[2:]).String()
}
