package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/webui"
)

// run is the whole program: it returns when ctx ends or on a fatal error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "profile":
			return runProfile(ctx, args[1:], stdout, stderr)
		case "firmware":
			return runFirmware(args[1:], stdout, stderr)
		case "fleet":
			return runFleet(ctx, args[1:], stdout, stderr)
		case "health":
			return runHealth(ctx, args[1:], stdout, stderr)
		case "lab":
			return runLab(ctx, args[1:], stdout, stderr)
		}
	}
	return runPhone(ctx, args, stderr)
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// phoneFlags are the flags of the run command.
type phoneFlags struct {
	model, mac, serial, firmware, hardware string
	data, ip, httpAddr, tftpServer         string
	sets                                   multiFlag
	profile                                string
	clockSpeed                             float64
	bootTime                               time.Duration
	logLevel, logFormat                    string
	factoryReset                           bool
	caFile, clientCert, clientKey          string
	insecure                               bool
	sipTrace, mwiDomain, sipTLSInsecure    bool
	sipFreshNonce                          bool
	acceptSHA256                           bool
	allowHosts                             multiFlag
	maxConns, maxConnsPerClient            int
	audioSource, recordDir, impair         string
	rtpPriority                            int
}

func runPhone(ctx context.Context, args []string, stderr io.Writer) error {
	var f phoneFlags
	fs := flag.NewFlagSet("spa900", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage:
  spa900 [flags]                          run one phone (SPA942 on the embedded defaults)
  spa900 fleet [flags]                    run many phones, one IP address each (spa900 fleet -h)
  spa900 health [--http ADDR|--url URL]   exit 0 when the phone is in service (container health checks)
  spa900 lab [flags]                      phones, a provisioning server and a registrar in one command (spa900 lab -h)
  spa900 profile encrypt|decrypt|compile|check ...
  spa900 firmware build|inspect ...

flags:
`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (subcommands: fleet, health, lab, profile, firmware)", fs.Arg(0))
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	opts, err := f.phoneOptions(log)
	if err != nil {
		return err
	}
	sched, err := rtpScheduler(f.rtpPriority, log)
	if err != nil {
		return err
	}
	if sched != nil {
		defer sched.Close()
		opts.MediaScheduler = sched
	}
	unit, err := phone.NewUnit(opts)
	if err != nil {
		var ae *config.ApplyError
		if errors.As(err, &ae) {
			return usagef("--set/--profile: %v", err)
		}
		return err
	}
	wopts, err := f.webOptions(log)
	if err != nil {
		return err
	}
	sip.SetProcessLogger(log)
	sip.SetProcessTimers(phone.ProcessSIPTimers([]*phone.Unit{unit}, log))
	srv := webui.NewServer(unit, f.httpAddr, phoneWeb(unit, wopts))
	errc := make(chan error, 2)
	go func() { errc <- unit.Run(ctx) }()
	go func() { errc <- srv.Run(ctx) }()
	err = <-errc
	if ctx.Err() == nil && err == nil {
		err = errors.New("stopped unexpectedly")
	}
	<-errc
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// register defines the flags of one phone; a fleet numbers MAC and IP from the given ones and
// has no --serial nor --http (each phone serves on its own IP, see runFleet).
func (f *phoneFlags) register(fs *flag.FlagSet, fleet bool) {
	fs.StringVar(&f.model, "model", config.DefaultModel, "phone model: SPA901, SPA921, SPA922, SPA941, SPA942, SPA962")
	if fleet {
		fs.StringVar(&f.mac, "mac", "", "MAC address of the first phone, counted up for the next (default: each generated once)")
		fs.StringVar(&f.ip, "ip", "127.0.0.2", "IP address of the first phone, counted up for the next; provisioning traffic leaves from it; auto: every phone on the first non-loopback interface address, web servers on ports counted up from --http-port")
		fs.StringVar(&f.data, "data", "./spa900-fleet", "data directory: one flash per phone below it")
	} else {
		fs.StringVar(&f.mac, "mac", "", "MAC address (default: generated once in the Linksys OUI and kept in the flash)")
		fs.StringVar(&f.serial, "serial", "", "serial number (default: derived from the MAC)")
		fs.StringVar(&f.ip, "ip", "127.0.0.1", "the phone's own IP address: SIP, RTP and provisioning traffic leave from it; auto: the first non-loopback interface address (a container's own)")
		fs.StringVar(&f.data, "data", "./spa900-data", "data directory: the phone's flash")
		fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "address of the phone's web server")
	}
	fs.StringVar(&f.firmware, "firmware", phone.DefaultSoftware, "software version of a new unit")
	fs.StringVar(&f.hardware, "hardware", phone.DefaultHardware, "hardware version of a new unit")
	fs.StringVar(&f.tftpServer, "tftp-server", "", "TFTP server HOST[:PORT] for rule URLs without a server (stands in for DHCP option 66)")
	fs.Var(&f.sets, "set", "factory default NAME=VALUE (repeatable): applied on first boot and after a factory reset")
	fs.StringVar(&f.profile, "profile", "", "flat-profile XML file of factory defaults, like --set")
	fs.Float64Var(&f.clockSpeed, "clock-speed", 1, "speed of policy timers (3600: an hour of schedule per second)")
	fs.DurationVar(&f.bootTime, "boot-time", phone.DefaultBootTime, "how long an emulated boot takes")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.audioSource, "audio-source", "silence", "what every call sends: silence, echo, tone:1000 (Hz), tone:Dial_Tone (a Regional tone), tone:TONESCRIPT, or file:PATH.wav (looped)")
	fs.StringVar(&f.recordDir, "record-dir", "", "record every call to MAC-ID-CALLID-rx.wav and -tx.wav in this directory")
	fs.StringVar(&f.impair, "impair", "", "impair what every call sends: loss=0.05,burst=2,jitter=20ms,delay=50ms,reorder=0.01,seed=7")
	fs.IntVar(&f.rtpPriority, "rtp-priority", 0, "real-time priority (SCHED_FIFO, 1-99) of the threads that pace RTP: steady send intervals on a busy machine; needs CAP_SYS_NICE (root, docker --cap-add SYS_NICE), else the default policy (logged); 0: the default policy")
	fs.StringVar(&f.logFormat, "log-format", "console", "log format: console or json")
	fs.BoolVar(&f.factoryReset, "factory-reset", false, "reset the configuration to the factory defaults at start (identity kept)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM bundle of CAs that HTTPS provisioning servers must chain to (default: system trust)")
	fs.StringVar(&f.clientCert, "client-cert", "", "PEM client certificate the phone presents to HTTPS servers")
	fs.StringVar(&f.clientKey, "client-key", "", "PEM private key of --client-cert")
	fs.BoolVar(&f.insecure, "insecure-provisioning", false, "do not verify HTTPS provisioning servers (labs only)")
	fs.BoolVar(&f.sipTrace, "sip-trace", false, "log every SIP message sent and received, whole")
	fs.BoolVar(&f.sipFreshNonce, "sip-fresh-nonce", false, "send every REGISTER without credentials and answer the registrar's new challenge (default: a refresh answers the last challenge again, one exchange)")
	fs.BoolVar(&f.sipTLSInsecure, "sip-tls-insecure", false, "accept any certificate from the proxy of an extension on SIP over TLS (labs; off: it must chain to --ca-file and name the proxy)")
	fs.BoolVar(&f.mwiDomain, "mwi-subscribe-domain", false, "an extension without Voice_Mail_Server_n_ subscribes to message-summary at its proxy's bare domain (as a SPA962 6.1.5 does)")
	fs.BoolVar(&f.acceptSHA256, "accept-sha256-profiles", false,
		"accept encrypted profiles whose key openssl derived with SHA-256 (its default since 1.1), an extension: a real 5.1 phone fails them")
	fs.Var(&f.allowHosts, "allow-host", "a host name the web server answers to besides the phone's address and names (repeatable): behind a proxy, or a DNS name of the phone's")
	fs.IntVar(&f.maxConns, "http-max-conns", webui.DefaultMaxConns, "connections each phone's web server holds at most")
	fs.IntVar(&f.maxConnsPerClient, "http-max-conns-per-client", webui.DefaultMaxConnsPerClient, "connections one client address may hold of each phone's web server")
}

// webOptions are the web server options of the flags.
func (f *phoneFlags) webOptions(log *zap.Logger) (webui.Options, error) {
	for _, h := range f.allowHosts {
		if h == "" || strings.ContainsAny(h, "/ \t") {
			return webui.Options{}, usagef("--allow-host: %q is not a host name", h)
		}
	}
	if f.maxConns < 1 || f.maxConnsPerClient < 1 {
		return webui.Options{}, usagef("--http-max-conns and --http-max-conns-per-client: must be at least 1")
	}
	return webui.Options{Logger: log, AllowHosts: f.allowHosts,
		Limits: webui.Limits{MaxConns: f.maxConns, MaxConnsPerClient: f.maxConnsPerClient}}, nil
}

// phoneOptions checks the flags and turns them into the unit's options.
func (f *phoneFlags) phoneOptions(log *zap.Logger) (phone.Options, error) {
	m, err := config.LookupModel(f.model)
	if err != nil {
		return phone.Options{}, usagef("--model: %v", err)
	}
	if f.mac != "" {
		if _, err := phone.ParseMAC(f.mac); err != nil {
			return phone.Options{}, usagef("--mac: %q is not a MAC address", f.mac)
		}
	}
	ip, err := resolveIP(f.ip)
	if err != nil {
		if f.ip == ipAuto {
			return phone.Options{}, usagef("--ip auto: %v; give the address with --ip", err)
		}
		return phone.Options{}, usagef("--ip: %q is not an IP address or auto", f.ip)
	}
	if _, _, err := net.SplitHostPort(f.httpAddr); err != nil && f.httpAddr != "" {
		return phone.Options{}, usagef("--http: %q is not HOST:PORT", f.httpAddr)
	}
	if f.clockSpeed <= 0 {
		return phone.Options{}, usagef("--clock-speed: must be above 0, got %v", f.clockSpeed)
	}
	if f.bootTime < 0 {
		return phone.Options{}, usagef("--boot-time: must not be negative")
	}
	if (f.clientCert == "") != (f.clientKey == "") {
		return phone.Options{}, usagef("--client-cert and --client-key go together")
	}
	cat := config.CatalogFor(m)
	var defaults []config.Change
	if f.profile != "" {
		data, err := os.ReadFile(f.profile)
		if err != nil {
			return phone.Options{}, usagef("--profile: %v", err)
		}
		prof, _, err := provisioning.ReadProfile(cat, data, provisioning.ReadOptions{}) // plain or gzip, as the phone reads it
		if err != nil {
			return phone.Options{}, usagef("--profile %s: %v", f.profile, err)
		}
		if len(prof.Unknown) > 0 {
			log.Warn("profile names ignored", zap.String("option", "--profile"), zap.Int("count", len(prof.Unknown)),
				zap.Strings("param", prof.Unknown[:min(len(prof.Unknown), 20)]))
		}
		if w := prof.Encoding.Warning; w != "" {
			log.Warn("profile encoding", zap.String("option", "--profile"), zap.String("warning", w))
		}
		changes, skipped := cat.SkipInvalid(prof.Changes) // as a resync would (DECISIONS 8)
		for _, s := range skipped[:min(len(skipped), 20)] {
			log.Warn("profile value skipped", zap.String("option", "--profile"), zap.String("param", s.Name),
				zap.String("value", s.Value), zap.String("reason", s.Reason), zap.Int("line", s.Line))
		}
		if len(skipped) > 20 {
			log.Warn("profile values skipped", zap.String("option", "--profile"), zap.Int("count", len(skipped)), zap.Int("not_logged", len(skipped)-20))
		}
		defaults = append(defaults, changes...)
	}
	for _, kv := range f.sets {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return phone.Options{}, usagef("--set %q: want NAME=VALUE", kv)
		}
		p, known := cat.Lookup(name)
		if !known {
			return phone.Options{}, usagef("--set: %s has no parameter %q", m.Name, name)
		}
		if _, err := p.Normalize(value); err != nil {
			return phone.Options{}, usagef("--set: %v", err)
		}
		defaults = append(defaults, config.Set(name, value))
	}
	src, err := phone.ParseAudioSource(f.audioSource)
	if err != nil {
		return phone.Options{}, usagef("--audio-source: %v", err)
	}
	imp, err := phone.ParseImpairment(f.impair)
	if err != nil {
		return phone.Options{}, usagef("--impair: %v", err)
	}
	if f.recordDir != "" {
		if fi, err := os.Stat(f.recordDir); err != nil || !fi.IsDir() {
			return phone.Options{}, usagef("--record-dir: %q is not a directory", f.recordDir)
		}
	}
	return phone.Options{
		Media: phone.MediaOptions{Source: src, RecordDir: f.recordDir, Impair: imp},
		Flash: config.NewFileFlash(filepath.Join(f.data, "flash.json")),
		Model: m.Name, MAC: f.mac, Serial: f.serial, Software: f.firmware, Hardware: f.hardware,
		IP: ip.String(), Defaults: defaults, FactoryReset: f.factoryReset,
		Clock: phone.NewScaledClock(f.clockSpeed), BootTime: f.bootTime, TFTPServer: f.tftpServer,
		Provisioning: phone.ProvisioningOptions{CAFile: f.caFile, ClientCert: f.clientCert, ClientKey: f.clientKey,
			Insecure: f.insecure, AcceptSHA256: f.acceptSHA256},
		Logger: log, SIPTrace: f.sipTrace, SIPTLSInsecure: f.sipTLSInsecure, SIPFreshNonce: f.sipFreshNonce, MWIDomainSubscribe: f.mwiDomain,
	}, nil
}

func newLogger(level, format string, w io.Writer) (*zap.Logger, error) {
	return newLoggerTo(level, format, zapcore.AddSync(w))
}

// fleetLogFlush is how long a fleet's log lines wait in its buffer at most.
const fleetLogFlush = 100 * time.Millisecond

// newFleetLogger is newLogger for a fleet: its lines are written in batches (a 256 KiB
// buffer, at least every fleetLogFlush) instead of one write each: ten thousand phones
// booting log some sixty thousand lines in seconds, and a write system call each was 3% of
// the storm's CPU. stop writes what is left; a fleet killed with SIGKILL loses its last
// fleetLogFlush of lines.
func newFleetLogger(level, format string, w io.Writer) (log *zap.Logger, stop func(), err error) {
	bw := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(w), FlushInterval: fleetLogFlush}
	if log, err = newLoggerTo(level, format, bw); err != nil {
		return nil, nil, err
	}
	return log, func() { bw.Stop() }, nil
}

func newLoggerTo(level, format string, ws zapcore.WriteSyncer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, usagef("--log-level: %q is not debug, info, warn or error", level)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	ec.EncodeDuration = zapcore.StringDurationEncoder
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, usagef("--log-format: %q is not console or json", format)
	}
	return zap.New(zapcore.NewCore(enc, ws, lvl)), nil
}

// errorf is used by the tool subcommands for a failed operation (exit status 1).
func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }
