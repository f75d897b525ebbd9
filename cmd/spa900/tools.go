package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/firmware"
)

const profileUsage = `usage:
  spa900 profile encrypt -k KEY [-in FILE] [-out FILE]   like openssl enc -e -aes-256-cbc -md md5 -k KEY
  spa900 profile decrypt -k KEY [-in FILE] [-out FILE]   like openssl enc -d -aes-256-cbc -md md5 -k KEY (sha256 too)
  spa900 profile compile [-o FILE] SOURCE                 SPC plain-text source (with imports) to flat-profile XML
  spa900 profile check [--model SPA942] [-k KEY] FILE     decode like the phone; list unknown names, bad values, access changes`

func runProfile(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("profile: missing subcommand\n%s", profileUsage)
	}
	switch args[0] {
	case "encrypt", "decrypt":
		return profileCrypt(args[0], args[1:], stdout, stderr)
	case "compile":
		return profileCompile(args[1:], stdout, stderr)
	case "check":
		return profileCheck(args[1:], stdout, stderr)
	}
	return usagef("profile: unknown subcommand %q\n%s", args[0], profileUsage)
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses a command's flags: -h prints the usage and ends the command with [errHelp]
// (exit 0); a bad flag is a usage error (exit 2).
func parse(fs *flag.FlagSet, args []string) error {
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

// profileCheck decodes a profile exactly as the phone would and reports what it would do.
func profileCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spa900 profile check", stderr)
	model := fs.String("model", config.DefaultModel, "phone model")
	key := fs.String("k", "", "passphrase of an encrypted profile (the rule's --key)")
	fs.StringVar(key, "key", "", "same as -k")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("profile check: want one FILE")
	}
	m, err := config.LookupModel(*model)
	if err != nil {
		return usagef("--model: %v", err)
	}
	data, err := readInput(fs.Arg(0))
	if err != nil {
		return errorf("profile check: %w", err)
	}
	cat := config.CatalogFor(m)
	prof, _, err := provisioning.ReadProfile(cat, data, provisioning.ReadOptions{Key: *key, HasKey: *key != ""})
	if err != nil {
		return errorf("profile check %s: %w", fs.Arg(0), err)
	}
	base := config.NewSnapshot(cat)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d elements, %d known, %d unknown names (model %s)\n", fs.Arg(0), prof.Elements, len(prof.Changes), len(prof.Unknown), m.Name)
	for _, u := range prof.Unknown {
		fmt.Fprintf(&b, "unknown: %s\n", u)
	}
	for _, c := range prof.Changes {
		if c.Access != config.AccessUnset {
			p, _ := cat.Lookup(c.Name)
			if c.Access != p.Access {
				fmt.Fprintf(&b, "access: %s %s -> %s\n", c.Name, p.Access, c.Access)
			}
		}
	}
	_, diff, applyErr := base.Apply(prof.Changes, config.ApplyOptions{})
	var ae *config.ApplyError
	if errors.As(applyErr, &ae) {
		for _, p := range ae.Problems {
			fmt.Fprintf(&b, "error: %v\n", p)
		}
	}
	if applyErr == nil {
		fmt.Fprintf(&b, "ok: %d values differ from the factory defaults\n", len(diff.Values))
	}
	io.WriteString(stdout, b.String())
	if applyErr != nil {
		return errorf("profile check: the phone would reject this profile")
	}
	return nil
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
