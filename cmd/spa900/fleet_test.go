package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spa900/spa900/provisioning/provtest"
)

// TestFleetFile runs the phones of a YAML fleet file as replica 2 of a larger fleet: each
// row's model, MAC and templated values, MACs and extensions past replicas 0 and 1, and the
// fleet's own listener with one /metrics and its readiness.
func TestFleetFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.yaml")
	// Every extension on a free port (the factory 5060… may be anybody's): 1-4 for all, 5
	// and 6 for the SPA962.
	var ports []int
	for range 6 {
		ports = append(ports, provtest.FreeUDPPort(t))
	}
	os.WriteFile(file, []byte(fmt.Sprintf(`defaults:
  set:
    User_ID_1_: "{{1000+index}}"
    Station_Name: "desk {{row}} of {{count}}"
    SIP_Port_1_: "%d"
    SIP_Port_2_: "%d"
    SIP_Port_3_: "%d"
    SIP_Port_4_: "%d"
phones:
  - model: SPA962
    set:
      SIP_Port_5_: "%d"
      SIP_Port_6_: "%d"
  - count: 2
`, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5])), 0o644)
	port := strconv.Itoa(fleetWebPort(t))
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"fleet", "--file", file, "--ordinal", "2", "--ip", "127.0.0.2", "--mac", "00:0e:08:00:00:00",
			"--http-port", port, "--listen", listen, "--data", filepath.Join(dir, "data"), "--boot-time", "0", "--log-format", "json"}, io.Discard, pw)
		pw.Close()
	}()
	listening := 0
	sc := bufio.NewScanner(pr)
	for listening < 3 && sc.Scan() {
		listening += webServerLine(t, sc.Text())
	}
	go io.Copy(io.Discard, pr)
	// Replica 2 of a 3-phone file: index 6, 7, 8; MACs 00:0e:08:00:00:06…
	for i, want := range []struct{ ip, mac, model, user, station string }{
		{"127.0.0.2", "000E08000006", "SPA962", "1006", "desk 0 of 3"},
		{"127.0.0.3", "000E08000007", "SPA942", "1007", "desk 1 of 3"},
		{"127.0.0.4", "000E08000008", "SPA942", "1008", "desk 2 of 3"},
	} {
		body := get(t, "http://"+net.JoinHostPort(want.ip, port)+"/admin/spacfg.xml")
		for _, s := range []string{">" + want.mac + "</MAC_Address>", ">" + want.model + "</Product_Name>", ">" + want.user + "</User_ID_1_>", ">" + want.station + "</Station_Name>"} {
			if !strings.Contains(body, s) {
				t.Errorf("phone %d: export lacks %s", i, s)
			}
		}
	}
	if body := get(t, "http://"+listen+"/readyz"); !strings.Contains(body, `"ready":true`) || !strings.Contains(body, `"phones":3`) {
		t.Errorf("/readyz: %s", body)
	}
	m := get(t, "http://"+listen+"/metrics")
	for _, want := range []string{`spa900_phones{model="SPA942",state="running"} 2`, `spa900_phones{model="SPA962",state="running"} 1`,
		"spa900_boots_total 3", `spa900_http_requests_total{code="200",route="export"} 3`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, "spa900_phone_info") {
		t.Error("per-phone series without --metrics-per-phone")
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"health", "--url", "http://" + listen + "/readyz"}, &out, io.Discard); err != nil {
		t.Errorf("health of the fleet listener: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestFleetPrint: --print shows what each replica would run, without running it.
func TestFleetPrint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fleet.csv")
	os.WriteFile(file, []byte("count,User_ID_1_\n2,{{100+index}}\n"), 0o644)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"fleet", "--file", file, "--ordinal", "5", "--mac", "00:0e:08:00:00:00", "--print"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[1], "|") != "10|0|SPA942|00:0e:08:00:00:0a|127.0.0.2|127.0.0.2:8080||0|User_ID_1_=110" {
		t.Errorf("print:\n%v", recs)
	}
}

func TestFleetFlagErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fleet.yaml")
	os.WriteFile(file, []byte("phones:\n  - set:\n      User_ID_1_: \"{{index+}}\"\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--file", file}, "fleet.yaml:3: set.User_ID_1_: template"},
		{[]string{"--file", file, "--count", "3"}, "--count and --file"},
		{[]string{"--file", "/nonexistent.yaml"}, "--file"},
		{[]string{"--ordinal", "-1"}, "--ordinal"},
		{[]string{"--count", "0"}, "--count"},
	} {
		err := run(t.Context(), append([]string{"fleet", "--print"}, tt.args...), io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want a usage error with %q", tt.args, err, tt.want)
		}
	}
}

func TestOrdinalOf(t *testing.T) {
	for host, want := range map[string]int{"spa900-fleet-0": 0, "spa900-fleet-17": 17, "a-b-c-3": 3} {
		if n, err := ordinalOf(host); err != nil || n != want {
			t.Errorf("ordinalOf(%q) = %d, %v", host, n, err)
		}
	}
	for _, host := range []string{"spa900", "spa900-", "spa900-x", "web-1a"} {
		if _, err := ordinalOf(host); err == nil {
			t.Errorf("ordinalOf(%q): no error", host)
		}
	}
}

// TestFleetSharesWebListener: a fleet's phones share one web listener for their port, say so
// in the open file budget, serve each its own pages, and a connection to an address of the
// port that is no phone's is reset.
func TestFleetSharesWebListener(t *testing.T) {
	port := strconv.Itoa(fleetWebPort(t)) // free on every address: the fleet's listener is the wildcard's
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"fleet", "--count", "3", "--ip", "127.0.1.2", "--mac", "00:0e:08:00:01:00",
			"--http-port", port, "--data", t.TempDir(), "--boot-time", "0", "--log-format", "json",
			"--set", "Line_Enable_1_=No", "--set", "Line_Enable_2_=No", "--set", "Line_Enable_3_=No", "--set", "Line_Enable_4_=No"},
			io.Discard, pw)
		pw.Close()
	}()
	var shared, budget []string
	listening := 0
	sc := bufio.NewScanner(pr)
	for listening < 3 && sc.Scan() {
		switch line := sc.Text(); {
		case webServerLine(t, line) > 0:
			listening++
		case strings.Contains(line, `"msg":"web listener shared"`):
			shared = append(shared, line)
		case strings.Contains(line, `"msg":"open file budget"`):
			budget = append(budget, line)
		}
	}
	go io.Copy(io.Discard, pr)
	if len(shared) != 1 || !strings.Contains(shared[0], `"addr":"0.0.0.0:`+port+`"`) {
		t.Errorf("shared listener lines: %q, want one on 0.0.0.0:%s", shared, port)
	}
	if len(budget) != 1 || !strings.Contains(budget[0], `"files_web":1,`) || !strings.Contains(budget[0], `"files_sip":0,`) {
		t.Errorf("open file budget: %q, want one web listener and no SIP socket", budget)
	}
	for i, mac := range []string{"000E08000100", "000E08000101", "000E08000102"} {
		body := get(t, "http://"+net.JoinHostPort(fmt.Sprintf("127.0.1.%d", 2+i), port)+"/admin/spacfg.xml")
		if !strings.Contains(body, ">"+mac+"</MAC_Address>") {
			t.Errorf("phone %d's export is not its own (want MAC %s)", i, mac)
		}
	}
	tr := &http.Transport{DisableKeepAlives: true}
	if res, err := (&http.Client{Transport: tr}).Get("http://127.0.1.9:" + port + "/"); err == nil {
		res.Body.Close()
		t.Errorf("127.0.1.9:%s, no phone's address, answered %d", port, res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// webServerLine reads a fleet's log line: 1 for a phone's web server listening, 0 for
// anything else; a web server that cannot listen ends the test with the line, which would
// otherwise wait for a listening line that never comes.
func webServerLine(t *testing.T, line string) int {
	t.Helper()
	switch {
	case strings.Contains(line, `"msg":"web server listening"`):
		return 1
	case strings.Contains(line, `"msg":"web server not listening"`), strings.Contains(line, `"msg":"web listener failed"`):
		t.Fatalf("fleet: %s", line)
	}
	return 0
}
