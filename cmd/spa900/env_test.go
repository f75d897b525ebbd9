package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestEnvironmentFlags: every flag has a variable; the command line wins over it; a
// repeatable flag takes one value a line, the command line's after the variable's.
func TestEnvironmentFlags(t *testing.T) {
	t.Setenv("SPA900_MODEL", "SPA962")
	t.Setenv("SPA900_SET", "Station_Name=From env\r\n\nGPP_A=env\nGPP_B=env\n")
	t.Setenv("SPA900_BOOT_TIME", "0")
	addr, stop := startPhone(t, "--data", t.TempDir(), "--set", "GPP_B=flag")
	defer stop()
	body := get(t, "http://"+addr+"/admin/spacfg.xml")
	for _, want := range []string{">SPA962</Product_Name>", ">From env</Station_Name>", ">env</GPP_A>", ">flag</GPP_B>"} {
		if !strings.Contains(body, want) {
			t.Errorf("export lacks %s", want)
		}
	}

	t.Run("flag wins", func(t *testing.T) {
		t.Setenv("SPA900_MODEL", "SPA999")
		addr, stop := startPhone(t, "--data", t.TempDir(), "--model", "SPA941")
		defer stop()
		if body := get(t, "http://"+addr+"/admin/spacfg.xml"); !strings.Contains(body, ">SPA941</Product_Name>") {
			t.Error("--model did not win over SPA900_MODEL")
		}
	})
	t.Run("bad value names the variable", func(t *testing.T) {
		t.Setenv("SPA900_CLOCK_SPEED", "fast")
		err := run(t.Context(), []string{"--data", t.TempDir()}, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "SPA900_CLOCK_SPEED") {
			t.Errorf("err = %v, want a usage error naming SPA900_CLOCK_SPEED", err)
		}
	})
	t.Run("subcommands", func(t *testing.T) {
		t.Setenv("SPA900_VERSION", "not-a-version")
		err := run(t.Context(), []string{"firmware", "build", "-o", t.TempDir() + "/fw.bin"}, io.Discard, io.Discard)
		if err == nil {
			t.Error("firmware build ignored SPA900_VERSION")
		}
	})
}

// TestEveryFlagHasAVariable reads the -h of every command: each flag's usage names its
// variable, derived from the flag's name.
func TestEveryFlagHasAVariable(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	for _, cmd := range [][]string{
		{"-h"}, {"fleet", "-h"}, {"health", "-h"}, {"lab", "-h"}, {"lab", "profiles", "-h"},
		{"profile", "encrypt", "-h"}, {"profile", "compile", "-h"}, {"profile", "check", "-h"},
		{"firmware", "build", "-h"},
	} {
		var out bytes.Buffer
		if err := run(t.Context(), cmd, io.Discard, &out); !errors.Is(err, errHelp) {
			t.Fatalf("%v: %v", cmd, err)
		}
		lines := strings.Split(out.String(), "\n")
		n := 0
		for i, line := range lines {
			m := flagLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			n++
			usage := line
			for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "    "); j++ {
				usage += lines[j]
			}
			if want := "(env " + envName(m[1]); !strings.Contains(usage, want) {
				t.Errorf("%v: flag -%s: usage does not say %s)", cmd, m[1], want)
			}
		}
		if n == 0 {
			t.Errorf("%v: no flags in the usage:\n%s", cmd, out.String())
		}
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"model": "SPA900_MODEL", "log-format": "SPA900_LOG_FORMAT", "set": "SPA900_SET",
		"accept-sha256-profiles": "SPA900_ACCEPT_SHA256_PROFILES", "k": "SPA900_K",
	} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// TestIPAuto: --ip auto takes the host's first non-loopback address, and the phone's
// provisioning address ($IP, Current_IP) is that address; the default stays 127.0.0.1.
func TestIPAuto(t *testing.T) {
	ip, err := resolveIP("auto")
	if err != nil {
		t.Skipf("this host has no non-loopback address: %v", err)
	}
	if ip.IsLoopback() || !ip.IsValid() {
		t.Fatalf("auto = %v", ip)
	}
	addr, stop := startPhone(t, "--data", t.TempDir(), "--boot-time", "0", "--ip", "auto")
	defer stop()
	if body := get(t, "http://"+addr+"/admin/spacfg.xml"); !strings.Contains(body, ">"+ip.String()+"</Current_IP>") {
		t.Errorf("export lacks Current_IP %s", ip)
	}
	addr, stop2 := startPhone(t, "--data", t.TempDir(), "--boot-time", "0")
	defer stop2()
	if body := get(t, "http://"+addr+"/admin/spacfg.xml"); !strings.Contains(body, ">127.0.0.1</Current_IP>") {
		t.Error("the default --ip is no longer 127.0.0.1")
	}
}

// TestHealth: `spa900 health` exits 0 on a phone in service, 1 (not a usage error) when no
// phone answers; /healthz needs no credentials even with an admin password.
func TestHealth(t *testing.T) {
	addr, stop := startPhone(t, "--data", t.TempDir(), "--boot-time", "0", "--set", "Admin_Passwd=secret")
	defer stop()
	var out bytes.Buffer
	if err := run(t.Context(), []string{"health", "--http", addr}, &out, io.Discard); err != nil {
		t.Fatalf("health of a running phone: %v", err)
	}
	if !strings.Contains(out.String(), `"state":"running"`) {
		t.Errorf("health printed %q", out.String())
	}
	_, port, _ := strings.Cut(addr, ":")
	if err := run(t.Context(), []string{"health", "--http", "0.0.0.0:" + port}, io.Discard, io.Discard); err != nil {
		t.Errorf("health of an unspecified --http host: %v", err)
	}
	dead := freeAddr(t)
	err := run(t.Context(), []string{"health", "--url", "http://" + dead + "/healthz", "--timeout", "2s"}, io.Discard, io.Discard)
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		t.Errorf("health of nothing: %v, want a failure (exit 1)", err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the admin password: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
	req.SetBasicAuth("admin", "secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"spa900_boots_total 1", `spa900_phones{model="SPA942",state="running"} 1`, `spa900_phone_info{`, `spa900_http_requests_total{code="200",route="health"} 2`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
