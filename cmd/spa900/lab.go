package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/spa900/spa900/fleetfile"
	"github.com/spa900/spa900/lab"
	"github.com/spa900/spa900/provisioning/config"
)

// labFlags are the flags of `spa900 lab` and `spa900 lab profiles`.
type labFlags struct {
	phones, first, httpPort int
	model, mac, ip, data    string
	sipAddr, provAddr       string
	listen, secret, tmpl    string
	logLevel, logFormat     string
	out, kamailioUsers      string // lab profiles only
}

func (f *labFlags) register(fs *flag.FlagSet, profiles bool) {
	fs.IntVar(&f.phones, "phones", 2, "number of phones (2 to 100)")
	fs.IntVar(&f.first, "first", 1001, "extension of the first phone; the others count up")
	fs.StringVar(&f.model, "model", config.DefaultModel, "phone model: SPA901, SPA921, SPA922, SPA941, SPA942, SPA962")
	fs.StringVar(&f.mac, "mac", "00:0e:08:1a:b0:01", "MAC address of the first phone, counted up for the next")
	fs.StringVar(&f.secret, "secret", "lab", "what the phones' SIP passwords are made of: SECRET-EXTENSION")
	fs.StringVar(&f.tmpl, "profile-template", "", "flat-profile XML template of every phone's profile, with {{index}}, {{mac}}, {{1001+index}} …; default: one registered line a phone")
	if profiles {
		fs.StringVar(&f.sipAddr, "registrar", "kamailio:5060", "the SIP registrar the profiles name (Proxy_1_)")
		fs.StringVar(&f.out, "out", "profiles", "directory the profiles are written to, one spa<mac>.cfg a phone")
		fs.StringVar(&f.kamailioUsers, "kamailio-users", "", "file the accounts are written to, as Kamailio htable lines; empty: none")
		return
	}
	fs.StringVar(&f.ip, "ip", "127.0.0.2", "IP address of the first phone, counted up for the next (each phone needs its own)")
	fs.IntVar(&f.httpPort, "http-port", 8080, "port of each phone's web server, on the phone's own address")
	fs.StringVar(&f.sipAddr, "sip", "127.0.0.1:5060", "UDP address of the built-in registrar")
	fs.StringVar(&f.provAddr, "prov", "127.0.0.1:8088", "address of the built-in provisioning server")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:9100", "address of the fleet listener: the portal (/), /api/v1/fleet, /phones/MAC/…, /metrics, /healthz, /readyz")
	fs.StringVar(&f.data, "data", "./spa900-lab", "data directory: the phones' flashes")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "console", "log format: console or json")
}

// labUsage is the usage of spa900 lab.
const labUsage = `usage:
  spa900 lab [flags]             phones, a provisioning server and a registrar: they boot, resync,
                                 register and call one another (a demo and a smoke test, not a PBX)
  spa900 lab profiles [flags]    write the lab's per-MAC profiles (and Kamailio's users) to files,
                                 for a provisioning server of your own (deploy/compose.yaml)

flags:
`

// runLab is `spa900 lab`: it starts the lab's registrar (lab.Registrar) and provisioning
// server (lab.ProvServer), prints where everything is, and runs the phones as a fleet whose
// factory defaults point at the provisioning server. The phones then do what they do with
// any server: resync at boot (Resync_Random_Delay 0 in the lab, so that they do at once),
// apply their profiles, restart, register with digest authentication.
func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "profiles" {
		return runLabProfiles(args[1:], stdout, stderr)
	}
	var f labFlags
	fs := newFlagSet("spa900 lab", stderr)
	f.register(fs, false)
	fs.Usage = func() { fmt.Fprint(stderr, labUsage); fs.PrintDefaults() }
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lab: unexpected argument %q (subcommand: profiles)", fs.Arg(0))
	}
	if f.phones < 2 || f.phones > 100 {
		return usagef("--phones: want 2 to 100, got %d", f.phones)
	}
	if f.ip == ipAuto {
		return usagef("--ip auto: the lab's phones need an address each (give the first with --ip); in containers use deploy/compose.yaml")
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()

	// The phones' addresses and MACs, as the fleet will number them.
	provLn, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.provAddr)
	if err != nil {
		return fmt.Errorf("lab: provisioning server: %w", err)
	}
	defer provLn.Close()
	provURL := "http://" + provLn.Addr().String()
	fleetArgs := []string{"--count", strconv.Itoa(f.phones), "--model", f.model, "--mac", f.mac, "--ip", f.ip,
		"--http-port", strconv.Itoa(f.httpPort), "--data", f.data, "--flash", flashFiles,
		"--log-level", f.logLevel, "--log-format", f.logFormat, "--listen", f.listen,
		"--set", config.ProfileRule + "=" + provURL + "/spa$MA.cfg",
		"--set", config.ResyncRandomDelay + "=0"}
	phones, err := labPhones(ctx, f, fleetArgs)
	if err != nil {
		return err
	}
	reg, err := lab.NewRegistrar(f.sipAddr, lab.RegistrarOptions{Logger: log, Accounts: map[string]string{}})
	if err != nil {
		return err
	}
	profiles, accounts, err := f.render(reg.Addr().String(), phones)
	if err != nil {
		reg.Close()
		return err
	}
	reg.SetAccounts(accounts)
	prov := lab.NewProvServer(profiles, log)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	mux := http.NewServeMux()
	mux.Handle("/", prov)
	mux.HandleFunc("GET /api/v1/lab", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{"registrations": reg.Bindings(), "fetches": prov.Fetches()})
	})
	// The registrar and the provisioning server start once the fleet has set the process's
	// SIP knobs, before its phones boot.
	started := false
	ready := func() {
		started = true
		wg.Go(func() {
			if err := reg.Run(ctx); err != nil {
				errc <- err
			}
		})
		wg.Go(func() {
			if err := serveUntil(ctx, provLn, mux); err != nil {
				errc <- fmt.Errorf("lab: provisioning server: %w", err)
			}
		})
		printLab(stdout, provURL, reg, f.listen, phones, profiles)
		log.Info("lab starting", zap.Int("phones", len(phones)), zap.String("provisioning", provURL),
			zap.String("registrar", reg.Addr().String()), zap.String("listen", f.listen))
	}
	wg.Go(func() {
		err := runFleetHooks(ctx, fleetArgs, stdout, stderr, fleetHooks{ready: ready})
		if !started {
			reg.Close()
		}
		errc <- err
	})
	err = <-errc
	cancel()
	wg.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// labPhone is one phone of the lab as the fleet numbers it.
type labPhone struct {
	index        int
	mac, ip, web string
}

// labPhones asks the fleet (its --print) which MACs, addresses and web servers its phones
// get, so that the profiles are rendered for exactly those.
func labPhones(ctx context.Context, f labFlags, fleetArgs []string) ([]labPhone, error) {
	var out, errb bytes.Buffer
	if err := runFleet(ctx, append(slicesClone(fleetArgs), "--print"), &out, &errb); err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != f.phones+1 {
		return nil, fmt.Errorf("lab: the fleet's phones: %d rows, %v", len(rows), err)
	}
	var phones []labPhone
	for _, r := range rows[1:] { // index, row, model, mac, ip, http, …
		i, _ := strconv.Atoi(r[0])
		phones = append(phones, labPhone{index: i, mac: r[3], ip: r[4], web: r[5]})
	}
	return phones, nil
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// render renders the phones' profiles for registrar (host:port) and collects their accounts.
func (f *labFlags) render(registrar string, phones []labPhone) ([]lab.Profile, map[string]string, error) {
	tmpl, name := "", "default"
	if f.tmpl != "" {
		data, err := os.ReadFile(f.tmpl)
		if err != nil {
			return nil, nil, usagef("--profile-template: %v", err)
		}
		tmpl, name = string(data), f.tmpl
	} else {
		if f.first < 1 || f.first > 99999999-f.phones {
			return nil, nil, usagef("--first: want a positive extension, got %d", f.first)
		}
		if f.secret == "" || strings.ContainsAny(f.secret, "{}<>&\"\\$\r\n") {
			return nil, nil, usagef("--secret: want letters, digits and punctuation other than {}<>&\"\\$")
		}
		var err error
		if tmpl, err = lab.DefaultTemplate(f.model, registrar, f.first, f.secret); err != nil {
			return nil, nil, usagef("--model: %v", err)
		}
	}
	in := make([]lab.Phone, len(phones))
	for i, p := range phones {
		in[i] = lab.Phone{Model: f.model, Vars: fleetfile.Vars{Index: int64(p.index), Row: int64(i), Count: int64(len(phones)),
			MAC: strings.ToUpper(strings.ReplaceAll(p.mac, ":", "")), IP: p.ip}}
	}
	profiles, err := lab.RenderProfiles(name, tmpl, in)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	accounts, err := lab.Accounts(profiles)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	return profiles, accounts, nil
}

// printLab tells a newcomer where everything is and how to place a call.
func printLab(w io.Writer, provURL string, reg *lab.Registrar, listen string, phones []labPhone, profiles []lab.Profile) {
	fmt.Fprintf(w, "spa900 lab: %d phones\n", len(phones))
	fmt.Fprintf(w, "  provisioning server  %s/spa<mac>.cfg   (registrations and fetches: %s/api/v1/lab)\n", provURL, provURL)
	fmt.Fprintf(w, "  registrar            sip:%s (UDP, realm %s)\n", reg.Addr(), reg.Realm())
	fmt.Fprintf(w, "  fleet portal         http://%s/   (/api/v1/fleet, /metrics, /healthz, /readyz)\n", listen)
	for i, p := range phones {
		ext := ""
		for _, a := range profiles[i].Accounts {
			ext += fmt.Sprintf(" ext %d: %s", a.Ext, a.User)
		}
		fmt.Fprintf(w, "  phone %-3d %s  http://%s/%s\n", i+1, profiles[i].MAC, p.web, ext)
	}
	if len(phones) >= 2 && len(profiles[1].Accounts) > 0 {
		fmt.Fprintf(w, "call phone 2 from phone 1:\n  curl -H 'Content-Type: application/json' -d '{\"extension\":1,\"to\":\"%s\"}' http://%s/api/v1/calls\n",
			profiles[1].Accounts[0].User, phones[0].web)
		fmt.Fprintf(w, "answer it: phone 2's /api/v1/calls lists the call; POST /api/v1/calls/ID/answer\n")
	}
}

// runLabProfiles is `spa900 lab profiles`: the profiles the lab would serve, written as
// files for another provisioning server (nginx in deploy/compose.yaml), and optionally the
// accounts as Kamailio htable lines.
func runLabProfiles(args []string, stdout, stderr io.Writer) error {
	var f labFlags
	fs := newFlagSet("spa900 lab profiles", stderr)
	f.register(fs, true)
	fs.Usage = func() { fmt.Fprint(stderr, labUsage); fs.PrintDefaults() }
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lab profiles: unexpected argument %q", fs.Arg(0))
	}
	if f.phones < 1 || f.phones > 65536 {
		return usagef("--phones: want 1 to 65536, got %d", f.phones)
	}
	spec := fleetfile.Range(f.phones)
	mac, err := net.ParseMAC(f.mac)
	if err != nil {
		return usagef("--mac: %q is not a MAC address", f.mac)
	}
	expanded, err := spec.Expand(fleetfile.Options{Model: f.model, MAC: mac, IP: netip.MustParseAddr("10.0.0.1"), HTTPPort: 80})
	if err != nil {
		return usagef("%v", err)
	}
	phones := make([]labPhone, len(expanded))
	for i, p := range expanded {
		phones[i] = labPhone{index: p.Index, mac: p.MAC}
	}
	profiles, accounts, err := f.render(f.sipAddr, phones)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, p := range profiles {
		if err := os.WriteFile(filepath.Join(f.out, strings.TrimPrefix(lab.ProfilePath(p.MAC), "/")), p.Data, 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if f.kamailioUsers != "" {
		users, err := lab.KamailioUsers(accounts)
		if err != nil {
			return usagef("%v", err)
		}
		if err := os.WriteFile(f.kamailioUsers, users, 0o644); err != nil {
			return fmt.Errorf("--kamailio-users: %w", err)
		}
	}
	fmt.Fprintf(stdout, "%d profiles in %s, %d accounts\n", len(profiles), f.out, len(accounts))
	return nil
}
