package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/fleetfile"
	"github.com/spa900/spa900/metrics"
	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/webui"
)

// fleetFlags are the flags of a fleet beside those of its phones.
type fleetFlags struct {
	count, httpPort, ordinal int
	ordinalFromHostname      bool
	file, listen             string
	perPhone, print          bool
	seed                     uint64
	flash                    string        // flash layout: db or files
	eventHistory             int           // bytes of events each phone keeps
	bootSpread               time.Duration // power-on spread
	memoryLimit              memoryLimit   // soft limit of the process's memory; unset: 90% of a container's limit
	maxCalls                 int           // calls at once the open file budget keeps RTP files for; -1: one per phone with an extension enabled
	overcommitFiles          bool          // start a fleet its open file limit does not fit
}

// runFleet runs many phones in one process: --count phones numbered from --ip and --mac (one
// loopback address each on Linux: 127.0.0.2, 127.0.0.3, …), or the phones of a fleet file
// (fleetfile), each with its own flash under --data, clock, seed, logger fields and web server,
// as a rack of real phones would. --ordinal (or --ordinal-from-hostname) makes the process one
// replica of a larger fleet: a StatefulSet pod. The fleet powers on at once (or spread over
// --boot-spread), says every second how the boot storm goes until it is over, and powers
// every phone off and on again at SIGHUP: a storm again.
func runFleet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runFleetHooks(ctx, args, stdout, stderr, fleetHooks{})
}

// fleetHooks let a command built on the fleet (spa900 lab) run beside it.
type fleetHooks struct {
	// ready is called once the process-wide SIP knobs are set, before the phones run:
	// SIP servers of the same process start then (sipgo reads the knobs unguarded).
	ready func()
}

func runFleetHooks(ctx context.Context, args []string, stdout, stderr io.Writer, hooks fleetHooks) error {
	var f phoneFlags
	var ff fleetFlags
	fs := flag.NewFlagSet("spa900 fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs, true)
	fs.IntVar(&ff.count, "count", 10, "number of phones (without --file)")
	fs.IntVar(&ff.httpPort, "http-port", 8080, "port of each phone's web server, on the phone's own IP (counted up on a shared address)")
	fs.StringVar(&ff.file, "file", "", "fleet file, YAML or CSV: model, MAC, address, web server, name, seed and --set values per row, with {{templates}}")
	fs.IntVar(&ff.ordinal, "ordinal", 0, "replica number: index and MACs continue past those of the replicas before it")
	fs.BoolVar(&ff.ordinalFromHostname, "ordinal-from-hostname", false, "take --ordinal from the host name's trailing -N (a StatefulSet pod: spa900-fleet-3)")
	fs.StringVar(&ff.listen, "listen", "", "address of the fleet's own listener: the portal (/), /api/v1/fleet, /phones/MAC/…, /metrics, /healthz, /readyz (e.g. 0.0.0.0:9100); empty: none")
	fs.BoolVar(&ff.perPhone, "metrics-per-phone", false, "add one spa900_phone_info series per phone to /metrics (small fleets)")
	fs.Uint64Var(&ff.seed, "seed", 0, "seed of the phones' random delays: phone index i gets seed+i, reproducible from run to run; 0: boot time and MAC")
	fs.BoolVar(&ff.print, "print", false, "print the phones as CSV (index, row, model, mac, ip, http, name, seed, set) and exit")
	fs.StringVar(&ff.flash, "flash", flashDB, "where the phones' flashes are kept: db (one database, DATA/flash.db; saves of many phones share each sync) or files (DATA/phone-0001/flash.json, …, as one phone keeps it)")
	fs.IntVar(&ff.eventHistory, "event-history", fleetEventHistory, "bytes of recent events each phone keeps for event-stream replays (at least 16384)")
	fs.DurationVar(&ff.bootSpread, "boot-spread", 0, "power the phones on evenly over this time, in order, at start and at every power cycle (SIGHUP); 0: all at once, as after a power cut")
	fs.Var(&ff.memoryLimit, "memory-limit", "soft limit of the fleet's memory (e.g. 300MiB, 2GB): the garbage collector runs as often as it must to stay under it; auto: 90% of the container's memory limit when it has one (cgroup); 0: Go's default (GOMEMLIMIT)")
	fs.BoolVar(&ff.overcommitFiles, "overcommit-files", false, "start even when the open file limit does not fit the fleet (warned): the SIP extensions beyond it are out of service (\"too many open files\"), calls beyond it fail, the web servers and provisioning keep their files")
	fs.IntVar(&ff.maxCalls, "max-calls", -1, "calls in progress at once, counted at each phone, that the open file budget keeps RTP and RTCP sockets for; -1: one per phone with an extension enabled")
	if err := parse(fs, args); err != nil {
		return err
	}
	if ff.maxCalls < -1 {
		return usagef("--max-calls: want -1 (one per phone with an extension enabled) or more, got %d", ff.maxCalls)
	}
	if ff.eventHistory < 16<<10 {
		return usagef("--event-history: want at least 16384 bytes, got %d", ff.eventHistory)
	}
	if ff.bootSpread < 0 {
		return usagef("--boot-spread: must not be negative")
	}
	if fs.NArg() > 0 {
		return usagef("fleet: unexpected argument %q", fs.Arg(0))
	}
	phones, err := ff.expand(fs, &f)
	if err != nil {
		return err
	}
	if ff.print {
		return printFleet(stdout, phones)
	}
	log, stopLog, err := newFleetLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	defer stopLog()
	ff.memoryLimit.apply(log)
	gc := raiseBootGC(log) // until the power-on storm is over
	defer gc.restore("fleet stopped", false)
	base, err := f.phoneOptions(log) // checks the shared flags once
	if err != nil {
		return err
	}
	sched, err := rtpScheduler(f.rtpPriority, log)
	if err != nil {
		return err
	}
	if sched != nil {
		defer sched.Close()
		base.MediaScheduler = sched // the fleet's, instead of the one NewFleet would make
	}
	wopts, err := f.webOptions(log)
	if err != nil {
		return err
	}
	store, closeFlashes, err := fleetFlashes(ff.flash, f.data, log)
	if err != nil {
		return err
	}
	defer closeFlashes()
	counters, httpc := new(phone.Counters), new(webui.HTTPCounters) // one of each for the fleet
	opts := make([]phone.Options, len(phones))
	for i, p := range phones {
		o := base
		o.Model, o.MAC, o.IP = p.Model, p.MAC, p.IP
		o.Clock = phone.NewScaledClock(f.clockSpeed)
		o.Flash = store(p.Row)
		o.EventHistoryBytes = ff.eventHistory
		o.Counters = counters
		o.Seed = p.Seed
		if p.Seed == 0 && ff.seed != 0 {
			o.Seed = ff.seed + uint64(p.Index)
		}
		o.Defaults = append([]config.Change(nil), base.Defaults...)
		for _, kv := range p.Set {
			name, value, _ := strings.Cut(kv, "=")
			o.Defaults = append(o.Defaults, config.Set(name, value))
		}
		fields := []zap.Field{zap.Int("index", p.Index)}
		if p.Name != "" {
			fields = append(fields, zap.String("name", p.Name))
		}
		// The unit adds them with its MAC, lazily: 5 KB a phone (an encoder and its buffer)
		// only once it writes, and one for the phone and its web server.
		o.Logger, o.LogFields = log, fields
		opts[i] = o
	}
	fleet, err := phone.NewFleet(opts, log)
	if err != nil {
		var ae *config.ApplyError
		if errors.As(err, &ae) {
			return usagef("fleet: %v", err)
		}
		return err
	}
	fleet.SetBootSpread(ff.bootSpread)
	units := fleet.Units()
	sip.SetProcessLogger(log)
	sip.SetProcessTimers(phone.ProcessSIPTimers(units, log))
	sip.SetProcessReadBuffer(fleetSIPReadBuffer)
	if hooks.ready != nil {
		hooks.ready()
	}
	webAddrs := make([]string, len(phones))
	for i, p := range phones {
		webAddrs[i] = p.HTTP
	}
	if err := planOpenFiles(log, fleet, webui.Listeners(webAddrs), ff.maxCalls, ff.overcommitFiles); err != nil {
		return err
	}
	log.Info("fleet starting", zap.Int("count", len(units)), zap.Int("ordinal", ff.ordinal), zap.String("file", ff.file),
		zap.String("first_ip", phones[0].IP), zap.String("listen", ff.listen), zap.String("flash", ff.flash),
		zap.Duration("boot_spread", ff.bootSpread))

	ctx, cancel := context.WithCancel(ctx) // the fleet listener failing, or no phone starting, stops the rest
	defer cancel()
	report := newStormReporter(log, units)
	report.ended = func() { gc.restore("storm done", true) }
	portalCycles := make(chan struct{}, 1) // the portal's power-cycle action
	var wg sync.WaitGroup
	errc := make(chan error, len(units)+1)
	if ff.listen != "" {
		reg := metrics.Registry(metrics.New(metrics.Options{Units: units, HTTP: httpc, PerPhone: ff.perPhone}))
		web := make([]string, len(phones))
		for i, p := range phones {
			web[i] = p.HTTP
			if host, port, err := net.SplitHostPort(p.HTTP); err == nil && net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
				web[i] = net.JoinHostPort("127.0.0.1", port)
			}
		}
		h := webui.NewFleetHandler(units, webui.FleetOptions{Metrics: metrics.Handler(reg), HTTP: httpc, Web: web, Logger: log,
			PowerCycle: func() {
				select {
				case portalCycles <- struct{}{}:
				default: // one is on its way
				}
			}})
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", ff.listen)
		if err != nil {
			return fmt.Errorf("fleet listener: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveUntil(ctx, ln, h); err != nil {
				errc <- fmt.Errorf("fleet listener %s: %w", ff.listen, err)
			}
		}()
		log.Info("fleet listener", zap.String("addr", ln.Addr().String()))
	}
	// A web server that cannot start is reported (its own error line, or the hub's one line
	// for all the phones of a port that cannot be bound; the storm lines' web_failed and
	// failed_by) and the rest of the fleet goes on; none at all is fatal. The phones share
	// one listener per port and one route table (webui.Hub): 10,000 phones hold one
	// listening socket, not 10,000.
	var webFailed atomic.Int64
	hub := webui.NewHub(log)
	for i, u := range units {
		o := wopts
		o.Logger, o.HTTP, o.Hub = u.Logger(), httpc, hub
		wg.Add(1)
		// Started, not run: a server keeps no goroutine of its own between boots.
		webui.NewServer(u, phones[i].HTTP, o).Start(ctx, func(err error) {
			defer wg.Done()
			if err == nil || ctx.Err() != nil {
				return
			}
			report.webFailure(i, err)
			if int(webFailed.Add(1)) == len(units) {
				errc <- fmt.Errorf("no phone can start: web server %s: %w", phones[i].HTTP, err)
			}
		})
	}
	cycles := make(chan chan struct{})
	// The boot counts the power-on storm's boots will be above, taken before any phone
	// runs: taken beside the booting fleet, a phone that booted before it was read was never
	// counted, and its storm never ended (9,996 of 10,000 booted).
	report.begin(time.Now())
	wg.Go(func() { report.run(ctx, cycles) })
	wg.Go(func() { powerCycles(ctx, log, fleet, ff.bootSpread, cycles, portalCycles) })
	fleetDone := make(chan struct{})
	go func() { fleet.Run(ctx); close(fleetDone) }()
	select {
	case err = <-errc:
		cancel()
	case <-ctx.Done():
	}
	<-fleetDone
	wg.Wait()
	if err != nil {
		return err
	}
	return nil
}

// expand turns the flags (and the file) into the phones of this replica.
func (ff *fleetFlags) expand(fs *flag.FlagSet, f *phoneFlags) ([]fleetfile.Phone, error) {
	countGiven := false
	fs.Visit(func(fl *flag.Flag) { countGiven = countGiven || fl.Name == "count" })
	var spec *fleetfile.Spec
	if ff.file != "" {
		if countGiven {
			return nil, usagef("--count and --file: the file gives the phones")
		}
		data, err := os.ReadFile(ff.file)
		if err != nil {
			return nil, usagef("--file: %v", err)
		}
		if spec, err = fleetfile.Parse(ff.file, data); err != nil {
			return nil, usagef("--file: %v", err)
		}
	} else {
		if ff.count < 1 || ff.count > 65536 {
			return nil, usagef("--count: want 1 to 65536, got %d", ff.count)
		}
		spec = fleetfile.Range(ff.count)
	}
	if ff.httpPort < 1 || ff.httpPort > 65535 {
		return nil, usagef("--http-port: want 1 to 65535, got %d", ff.httpPort)
	}
	if ff.ordinalFromHostname {
		host, err := os.Hostname()
		if err != nil {
			return nil, usagef("--ordinal-from-hostname: %v", err)
		}
		n, err := ordinalOf(host)
		if err != nil {
			return nil, usagef("--ordinal-from-hostname: %v", err)
		}
		ff.ordinal = n
	}
	if ff.ordinal < 0 {
		return nil, usagef("--ordinal: must not be negative, got %d", ff.ordinal)
	}
	o := fleetfile.Options{Ordinal: ff.ordinal, Model: f.model, HTTPPort: ff.httpPort}
	if _, err := config.LookupModel(f.model); err != nil {
		return nil, usagef("--model: %v", err)
	}
	if f.mac != "" {
		mac, err := phone.ParseMAC(f.mac)
		if err != nil {
			return nil, usagef("--mac: %q is not a MAC address", f.mac)
		}
		o.MAC = mac
	}
	ip, err := resolveIP(f.ip)
	if err != nil {
		return nil, usagef("--ip: %q is not an IP address or auto (%v)", f.ip, err)
	}
	o.IP, o.SharedIP = ip, f.ip == ipAuto
	if auto, err := resolveIP(ipAuto); err == nil {
		o.Auto = auto
	}
	phones, err := spec.Expand(o)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return phones, nil
}

// ordinalOf reads a StatefulSet pod's ordinal from its host name: the number after the last
// dash (spa900-fleet-3 → 3).
func ordinalOf(host string) (int, error) {
	i := strings.LastIndexByte(host, '-')
	n, err := strconv.Atoi(host[i+1:])
	if i < 0 || err != nil || n < 0 {
		return 0, fmt.Errorf("host name %q does not end in -N", host)
	}
	return n, nil
}

// printFleet writes the phones as CSV, one a line.
func printFleet(w io.Writer, phones []fleetfile.Phone) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"index", "row", "model", "mac", "ip", "http", "name", "seed", "set"})
	for _, p := range phones {
		cw.Write([]string{strconv.Itoa(p.Index), strconv.Itoa(p.Row), p.Model, p.MAC, p.IP, p.HTTP, p.Name,
			strconv.FormatUint(p.Seed, 10), strings.Join(p.Set, "\n")})
	}
	cw.Flush()
	return cw.Error()
}

// fleetSIPReadBuffer is what each SIP socket of a fleet reads a datagram into: 8 KiB holds
// any SIP message a phone gets over UDP (an INVITE with a rich SDP is 2-3 KB; RFC 3261
// §18.1.1 moves larger ones to TCP) where sipgo's 32 KiB would cost 128 KiB per SPA942.
const fleetSIPReadBuffer = 8 << 10

// fleetEventHistory is what each phone of a fleet keeps of its recent events by default: 16
// KiB, about 60 typical events (ten resyncs, the last minutes of a phone resyncing every few
// seconds; a reconnecting client's catch-up after a reboot), in about 11 KB of heap. A single
// phone keeps phone.DefaultEventHistoryBytes (256 KiB): one process, one phone, watched
// closely. A fleet pays its bound once per phone, and at thousands of phones the events were
// the largest part of what a phone holds (3,000 phones resyncing every second: 70 MB of
// their 200 MB of live heap at 32 KiB before the bus packed them), so it keeps less of each.
const fleetEventHistory = 16 << 10

// serveUntil serves h on ln until ctx ends, then shuts the server down.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// phoneWeb adds to a single phone's web server options its request counts and /metrics
// (with the API's credentials) reading the phone alone.
func phoneWeb(unit *phone.Unit, o webui.Options) webui.Options {
	o.HTTP = new(webui.HTTPCounters)
	reg := metrics.Registry(metrics.New(metrics.Options{Units: []*phone.Unit{unit}, HTTP: o.HTTP, PerPhone: true}))
	o.Metrics = metrics.Handler(reg)
	return o
}
