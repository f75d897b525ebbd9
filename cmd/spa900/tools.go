package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/firmware"
)

const profileUsage = `usage:
  spa900 profile encrypt -k KEY [-in FILE] [-out FILE]   like openssl enc -e -aes-256-cbc -md md5 -k KEY
  spa900 profile decrypt -k KEY [-in FILE] [-out FILE]   like openssl enc -d -aes-256-cbc -k KEY; a tool, it takes
                                                          -md md5 and -md sha256 files (the phone only md5, see check)
  spa900 profile compile [-o FILE] SOURCE                 SPC plain-text source (with imports) to flat-profile XML
  spa900 profile check [--model SPA942] [-k KEY] [--json] FILE|--url URL
                                                          what a 5.1 phone would do with it, line by line (exit 1: refused)`

func runProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("profile: missing subcommand\n%s", profileUsage)
	}
	switch args[0] {
	case "encrypt", "decrypt":
		return profileCrypt(args[0], args[1:], stdout, stderr)
	case "compile":
		return profileCompile(args[1:], stdout, stderr)
	case "check":
		return profileCheck(ctx, args[1:], stdout, stderr)
	}
	return usagef("profile: unknown subcommand %q\n%s", args[0], profileUsage)
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses a command's flags, first from their environment variables (env.go), then
// from the command line, which wins: -h prints the usage and ends the command with [errHelp]
// (exit 0); a bad flag or variable is a usage error (exit 2).
func parse(fs *flag.FlagSet, args []string) error {
	documentEnv(fs)
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{msg: err.Error()}
	}
	return nil
}

// readInput reads a file, or standard input for "" and "-".
func readInput(name string) ([]byte, error) {
	if name == "" || name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// writeOutput writes a file, or stdout for "" and "-".
func writeOutput(name string, data []byte, stdout io.Writer) error {
	if name == "" || name == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

func profileCrypt(op string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 profile "+op, stderr)
	key := fs.String("k", "", "passphrase, as openssl -k")
	in := fs.String("in", "", "input file (default: standard input)")
	out := fs.String("out", "", "output file (default: standard output)")
	fs.Usage = func() {
		if op == "decrypt" {
			fmt.Fprint(stderr, "usage: spa900 profile decrypt -k KEY [-in FILE] [-out FILE]\n\n"+
				"Like openssl enc -d -aes-256-cbc -k KEY. A tool, more lenient than the phone: it decrypts files whose key\n"+
				"was derived with MD5 (-md md5, what a 5.1 phone reads) and with SHA-256 (openssl >= 1.1's default, which\n"+
				"a 5.1 phone refuses; see spa900 profile check).\n\nflags:\n")
		} else {
			fmt.Fprint(stderr, "usage: spa900 profile encrypt -k KEY [-in FILE] [-out FILE]\n\n"+
				"Like openssl enc -e -aes-256-cbc -md md5 -k KEY: the key derivation a 5.1 phone reads.\n\nflags:\n")
		}
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" {
		return usagef("profile %s: -k KEY is required", op)
	}
	data, err := readInput(*in)
	if err != nil {
		return errorf("profile %s: %w", op, err)
	}
	var res []byte
	if op == "encrypt" {
		res, err = provisioning.Encrypt(data, *key, rand.Reader)
	} else {
		res, err = provisioning.Decrypt(data, *key)
	}
	if err != nil {
		return errorf("profile %s: %w", op, err)
	}
	return writeOutput(*out, res, stdout)
}

func profileCompile(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 profile compile", stderr)
	out := fs.String("o", "", "output file (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("profile compile: want one SOURCE file")
	}
	src := fs.Arg(0)
	data, err := os.ReadFile(src)
	if err != nil {
		return errorf("profile compile: %w", err)
	}
	dir := filepath.Dir(src)
	xml, err := provisioning.CompileSPC(data, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return os.ReadFile(name)
	})
	if err != nil {
		return errorf("profile compile %s: %w", src, err)
	}
	return writeOutput(*out, xml, stdout)
}

// checkMAC is the MAC of the phone `profile check --url` stands for unless --mac says: an
// address of the Linksys OUI (DECISIONS 3).
const checkMAC = "00:0e:08:00:00:01"

// profileCheck is the linter of provisioning servers: it reads a profile file, or fetches a
// URL as the phone would (its User-Agent, macros expanded), exactly as a phone of --model
// reads it, and reports what the phone would do, line by line; --json for CI pipelines.
// It exits 1 only when a real phone would refuse the profile.
func profileCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 profile check", stderr)
	model := fs.String("model", config.DefaultModel, "phone model")
	key := fs.String("k", "", "passphrase of an encrypted profile (the rule's --key)")
	fs.StringVar(key, "key", "", "same as -k")
	url := fs.String("url", "", "fetch the profile from this URL as the phone would (its User-Agent; $MA, $PN, $SN... expanded) instead of reading FILE")
	mac := fs.String("mac", checkMAC, "MAC address of the phone --url fetches for ($MA, and the serial of the User-Agent)")
	sha256 := fs.Bool("accept-sha256-profiles", false, "check as a phone run with --accept-sha256-profiles (an extension: a real 5.1 phone refuses SHA-256 key derivation)")
	asJSON := fs.Bool("json", false, "write the report as JSON (see README.md)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage:\n  spa900 profile check [flags] FILE\n  spa900 profile check [flags] --url URL\n\n"+
			"Reports what a phone of --model, firmware 5.1, would do with the profile, line by line.\n"+
			"Exit status 1 only when the phone would refuse the profile (its resync fails).\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*url == "") == (fs.NArg() != 1) || fs.NArg() > 1 {
		return usagef("profile check: want one FILE or --url URL")
	}
	m, err := config.LookupModel(*model)
	if err != nil {
		return usagef("--model: %v", err)
	}
	source := fs.Arg(0)
	var data []byte
	if *url != "" {
		source, data, err = fetchForCheck(ctx, m, *url, *mac)
	} else {
		data, err = readInput(source)
	}
	if err != nil {
		return errorf("profile check: %w", err)
	}
	rep := provisioning.CheckProfile(m, source, data, provisioning.ReadOptions{Key: *key, HasKey: *key != "", AcceptSHA256: *sha256})
	if *asJSON {
		out, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if _, err := stdout.Write(append(out, '\n')); err != nil {
			return err
		}
	} else if _, err := io.WriteString(stdout, checkText(rep)); err != nil {
		return err
	}
	if rep.Refused {
		return errorf("profile check: %s", rep.Verdict)
	}
	return nil
}

// fetchForCheck fetches a profile as a phone of model m with this MAC would: macros
// expanded, the phone's User-Agent, the fetchers of the phone.
func fetchForCheck(ctx context.Context, m config.Model, raw, macText string) (string, []byte, error) {
	mac, err := phone.ParseMAC(macText)
	if err != nil {
		return "", nil, &usageError{msg: "--mac: " + err.Error()}
	}
	id := phone.Identity{Model: m, MAC: mac, Serial: phone.SerialFromMAC(mac), Software: phone.DefaultSoftware, Hardware: phone.DefaultHardware}
	vars := &provisioning.Vars{MAC: mac, PN: m.Name, PSN: m.Series, SN: id.Serial, SWVER: id.Software, HWVER: id.Hardware}
	u, err := provisioning.ParseURL(provisioning.Expand(raw, vars), "")
	if err != nil {
		return "", nil, &usageError{msg: "--url: " + err.Error()}
	}
	f, err := provisioning.NewFetcher(provisioning.FetcherConfig{UserAgent: id.HTTPUserAgent()})
	if err != nil {
		return "", nil, err
	}
	resp, err := f.Fetch(ctx, provisioning.Request{Target: provisioning.Target{Scheme: u.Scheme, Host: u.Host, Port: u.Port, Path: u.Path}})
	if err != nil {
		return "", nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	return u.String(), resp.Body, nil
}

// checkText is the report for people: a header, one line per element, the notes and the
// verdict.
func checkText(rep *provisioning.CheckReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: as a %s %s reads it\n", rep.Source, rep.Model, rep.Firmware)
	var how []string
	if rep.Encrypted {
		switch rep.KeyDerivation {
		case "":
			how = append(how, "encrypted (openssl Salted__)")
		default:
			how = append(how, "encrypted (openssl Salted__, key derived with "+strings.ToUpper(rep.KeyDerivation)+")")
		}
	}
	if rep.Compressed {
		how = append(how, "gzip")
	}
	if e := rep.Encoding; e != nil {
		enc := "encoding " + e.Used
		if e.Declared != "" {
			enc += " (declared " + e.Declared + ")"
		}
		how = append(how, enc)
	}
	if len(how) > 0 {
		fmt.Fprintf(&b, "read: %s\n", strings.Join(how, ", "))
	}
	for _, l := range rep.Lines {
		fmt.Fprintf(&b, "line %-5d %-10s %s", l.Line, l.Status, l.Param)
		switch l.Status {
		case provisioning.CheckApplied:
			fmt.Fprintf(&b, " = %q", l.Value)
			if l.Written != "" {
				fmt.Fprintf(&b, " (written %q)", l.Written)
			}
		case provisioning.CheckSkipped:
			if l.Written != "" {
				fmt.Fprintf(&b, " %q", l.Written)
			}
			fmt.Fprintf(&b, ": %s; the parameter keeps its value", l.Reason)
		default:
			if l.Reason != "" {
				fmt.Fprintf(&b, ": %s", l.Reason)
			}
		}
		if l.Access != "" {
			fmt.Fprintf(&b, " [ua=%s]", l.Access)
		}
		b.WriteByte('\n')
	}
	if rep.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", rep.Error)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	c := rep.Counts
	if !rep.Refused {
		fmt.Fprintf(&b, "%d elements: %d applied, %d access only, %d overridden, %d skipped, %d unknown\n",
			c.Elements, c.Applied, c.Access, c.Overridden, c.Skipped, c.Unknown)
	}
	fmt.Fprintf(&b, "verdict: %s\n", rep.Verdict)
	return b.String()
}

const firmwareUsage = `usage:
  spa900 firmware build --model SPA942 --version 5.1.18 [--size 3.5M] -o FILE
  spa900 firmware inspect FILE`

func runFirmware(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("firmware: missing subcommand\n%s", firmwareUsage)
	}
	switch args[0] {
	case "build":
		return firmwareBuild(args[1:], stdout, stderr)
	case "inspect":
		return firmwareInspect(args[1:], stdout, stderr)
	}
	return usagef("firmware: unknown subcommand %q\n%s", args[0], firmwareUsage)
}

func firmwareBuild(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 firmware build", stderr)
	model := fs.String("model", config.DefaultModel, "model the image is for (comma-separated for several)")
	version := fs.String("version", "", "firmware version, e.g. 5.1.18")
	size := fs.String("size", "", "pad the image to this size: bytes, or with K/M suffix (e.g. 3.5M)")
	out := fs.String("o", "", "output file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *version == "" || *out == "" {
		return usagef("firmware build: --version and -o are required")
	}
	if _, err := provisioning.ParseVersion(*version); err != nil {
		return usagef("--version: %v", err)
	}
	var models []string
	for _, name := range strings.Split(*model, ",") {
		m, err := config.LookupModel(strings.TrimSpace(name))
		if err != nil {
			return usagef("--model: %v", err)
		}
		models = append(models, m.Name)
	}
	pad, err := parseSize(*size)
	if err != nil {
		return usagef("--size: %v", err)
	}
	payload := []byte(fmt.Sprintf("spa900 emulated firmware %s for %s\n", *version, strings.Join(models, ",")))
	img, err := firmware.Build(firmware.Image{Models: models, Version: *version, Built: time.Now().UTC().Truncate(time.Second), Payload: payload}, pad)
	if err != nil {
		return errorf("firmware build: %w", err)
	}
	if err := os.WriteFile(*out, img, 0o644); err != nil {
		return errorf("firmware build: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s %s, %d bytes\n", *out, strings.Join(models, ","), *version, len(img))
	return nil
}

func parseSize(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*mult > firmware.MaxImageLen {
		return 0, fmt.Errorf("%q is not a size up to 64M", s)
	}
	return int(f * mult), nil
}

func firmwareInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 firmware inspect", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("firmware inspect: want one FILE")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return errorf("firmware inspect: %w", err)
	}
	info, err := firmware.Inspect(data)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n", info)
	stdout.Write(b.Bytes())
	if err != nil {
		return errorf("firmware inspect %s: %w", fs.Arg(0), err)
	}
	return nil
}
