package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/webui"
)

// runFleet runs --count phones in one process. Phone i has the i-th IP address from --ip
// (one loopback address each on Linux: 127.0.0.2, 127.0.0.3, …), the i-th MAC from --mac,
// its own flash under --data, and its web server on its own IP at --http-port, as a rack of
// real phones would. The fleet powers on at once (or spread over --boot-spread), says every
// second how the boot storm goes until it is over, and powers every phone off and on again
// at SIGHUP: a storm again.
func runFleet(ctx context.Context, args []string, stderr io.Writer) error {
	var f phoneFlags
	fs := flag.NewFlagSet("spa900 fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs, true)
	count := fs.Int("count", 10, "number of phones")
	httpPort := fs.Int("http-port", 8080, "port of each phone's web server, on the phone's own IP")
	flashLayout := fs.String("flash", flashDB, "where the phones' flashes are kept: db (one database, DATA/flash.db; saves of many phones share each sync) or files (DATA/phone-0001/flash.json, …, as one phone keeps it)")
	eventHistory := fs.Int("event-history", fleetEventHistory, "bytes of recent events each phone keeps for event-stream replays (at least 16384)")
	bootSpread := fs.Duration("boot-spread", 0, "power the phones on evenly over this time, in order, at start and at every power cycle (SIGHUP); 0: all at once, as after a power cut")
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
	if *eventHistory < 16<<10 {
		return usagef("--event-history: want at least 16384 bytes, got %d", *eventHistory)
	}
	if *bootSpread < 0 {
		return usagef("--boot-spread: must not be negative")
	}
	firstIP, err := netip.ParseAddr(f.ip)
	if err != nil {
		return usagef("--ip: %q is not an IP address", f.ip)
	}
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
	store, closeFlashes, err := fleetFlashes(*flashLayout, f.data, log)
	if err != nil {
		return err
	}
	defer closeFlashes()
	opts := make([]phone.Options, *count)
	addrs := make([]string, *count)
	ip := firstIP
	for i := range opts {
		if !ip.IsValid() {
			return usagef("--ip: %s leaves no room for %d phones", f.ip, *count)
		}
		o := base
		o.IP = ip.String()
		o.Clock = phone.NewScaledClock(f.clockSpeed)
		o.Flash = store(i)
		o.EventHistoryBytes = *eventHistory
		if f.mac != "" {
			o.MAC = macString(firstMAC + uint64(i))
		}
		opts[i] = o
		addrs[i] = net.JoinHostPort(o.IP, strconv.Itoa(*httpPort))
		ip = ip.Next()
	}
	fleet, err := phone.NewFleet(opts, log)
	if err != nil {
		return err
	}
	fleet.SetBootSpread(*bootSpread)
	units := fleet.Units()
	sip.SetProcessLogger(log)
	sip.SetProcessTimers(phone.ProcessSIPTimers(units, log))
	sip.SetProcessReadBuffer(fleetSIPReadBuffer)
	reportOpenFiles(log, fleet)
	log.Info("fleet starting", zap.Int("count", *count), zap.String("first_ip", firstIP.String()), zap.Int("http_port", *httpPort),
		zap.String("flash", *flashLayout), zap.Duration("boot_spread", *bootSpread))

	ctx, cancel := context.WithCancel(ctx) // no phone can start: everything stops
	defer cancel()
	report := newStormReporter(log, units)
	var wg sync.WaitGroup
	// A web server that cannot start is reported (its own error line, the storm lines'
	// web_failed and failed_by) and the rest of the fleet goes on; none at all is fatal.
	var webFailed atomic.Int64
	var noneErr atomic.Pointer[error]
	for i, u := range units {
		o := wopts
		o.Logger = log.With(zap.String("phone", u.Status().MAC))
		srv := webui.NewServer(u, addrs[i], o)
		wg.Go(func() {
			err := srv.Run(ctx)
			if err == nil || ctx.Err() != nil {
				return
			}
			report.webFailure(i, err)
			if int(webFailed.Add(1)) == len(units) {
				err := fmt.Errorf("no phone can start: web server %s: %w", addrs[i], err)
				noneErr.Store(&err)
				cancel()
			}
		})
	}
	cycles := make(chan struct{}, 1)
	wg.Go(func() { report.run(ctx, cycles) })
	wg.Go(func() { powerCycles(ctx, log, fleet, *bootSpread, cycles) })
	fleet.Run(ctx)
	cancel()
	wg.Wait()
	if e := noneErr.Load(); e != nil {
		return *e
	}
	return nil
}

// fleetSIPReadBuffer is what each SIP socket of a fleet reads a datagram into: 8 KiB holds
// any SIP message a phone gets over UDP (an INVITE with a rich SDP is 2-3 KB; RFC 3261
// §18.1.1 moves larger ones to TCP) where sipgo's 32 KiB would cost 128 KiB per SPA942.
const fleetSIPReadBuffer = 8 << 10

// fleetEventHistory is what each phone of a fleet keeps of its recent events by default: 32
// KiB, about 50 typical events (ten resyncs), the last minutes of a phone resyncing every few
// seconds. A single phone keeps phone.DefaultEventHistoryBytes; a fleet pays this once per
// phone (3,000 phones: 96 MiB at most).
const fleetEventHistory = 32 << 10

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
