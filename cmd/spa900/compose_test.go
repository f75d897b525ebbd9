package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// composeFile is the part of deploy/compose.yaml the test reads; unknown keys are errors.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Build       map[string]string            `yaml:"build"`
	Image       string                       `yaml:"image"`
	Command     []string                     `yaml:"command"`
	Entrypoint  []string                     `yaml:"entrypoint"`
	User        string                       `yaml:"user"`
	DependsOn   map[string]map[string]string `yaml:"depends_on"`
	Volumes     []string                     `yaml:"volumes"`
	Ports       []string                     `yaml:"ports"`
	Environment map[string]string            `yaml:"environment"`
	Healthcheck map[string]any               `yaml:"healthcheck"`
}

// mount returns the container path of volume (a named volume or a ./path) in s, "" if none.
func (s composeService) mount(volume string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[0] == volume {
			return parts[1]
		}
	}
	return ""
}

// TestCompose validates deploy/compose.yaml, then runs its topology without Docker, as root
// or not (deploy's TestDocker/ComposeUp runs the file itself with Compose, under CI): the
// profiles service's command writes the profiles and Kamailio's accounts, nginx serves them,
// Kamailio runs the compose file's own kamailio.cfg, and the phones service's command runs
// the compose fleet file's four phones, which provision, register with digest authentication,
// and call one another. Where Compose would resolve names (nginx, kamailio) and give the
// container an address, the test substitutes loopback addresses.
func TestCompose(t *testing.T) {
	const deployDir = "../../deploy"
	data, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}

	// Its structure: who runs what, in which order, sharing which volume.
	prof, nginx, kam, phones := cf.Services["profiles"], cf.Services["nginx"], cf.Services["kamailio"], cf.Services["phones"]
	if len(cf.Services) != 4 || prof.Image == "" || nginx.Image == "" || kam.Image == "" || phones.Image != prof.Image {
		t.Fatalf("services %v: want profiles, nginx, kamailio and phones, the phones of the profiles' image", cf.Services)
	}
	if prof.Build["context"] != ".." {
		t.Errorf("profiles builds %v, want the repository (..)", prof.Build)
	}
	for name, s := range map[string]composeService{"nginx": nginx, "kamailio": kam} {
		if s.DependsOn["profiles"]["condition"] != "service_completed_successfully" {
			t.Errorf("%s starts before the profiles are written: depends_on %v", name, s.DependsOn)
		}
	}
	if _, ok := phones.DependsOn["nginx"]; !ok {
		t.Errorf("phones depends_on %v: want nginx and kamailio", phones.DependsOn)
	}
	if _, ok := phones.DependsOn["kamailio"]; !ok {
		t.Errorf("phones depends_on %v: want nginx and kamailio", phones.DependsOn)
	}
	if _, ok := cf.Volumes["profiles"]; !ok {
		t.Error("no profiles volume")
	}
	out := prof.mount("profiles")
	if out == "" || nginx.mount("profiles") != "/usr/share/nginx/html" || kam.mount("profiles") == "" {
		t.Errorf("the profiles volume: at %q in profiles, %q in nginx (its docroot), %q in kamailio", out, nginx.mount("profiles"), kam.mount("profiles"))
	}
	if len(prof.Command) < 2 || prof.Command[0] != "lab" || prof.Command[1] != "profiles" || len(phones.Command) == 0 || phones.Command[0] != "fleet" {
		t.Fatalf("commands: profiles %v, phones %v", prof.Command, phones.Command)
	}
	kamCfg := ""
	for _, v := range kam.Volumes {
		if src, dst, ok := strings.Cut(strings.TrimSuffix(v, ":ro"), ":"); ok && slices.Contains(kam.Entrypoint, dst) {
			kamCfg = filepath.Join(deployDir, src)
		}
	}
	fleetFile, fleetDst := "", ""
	for _, v := range phones.Volumes {
		if src, dst, ok := strings.Cut(strings.TrimSuffix(v, ":ro"), ":"); ok && slices.Contains(phones.Command, dst) {
			fleetFile, fleetDst = filepath.Join(deployDir, src), dst
		}
	}
	if kamCfg == "" || fleetFile == "" {
		t.Fatalf("kamailio's configuration %q (entrypoint %v), the phones' fleet file %q (command %v): want both mounted from deploy/",
			kamCfg, kam.Entrypoint, fleetFile, phones.Command)
	}

	// Compose's own check, where it is installed (Debian's docker-compose; .ci/install-peers).
	if compose := composeBinary(t); compose != "" {
		if out, err := exec.CommandContext(t.Context(), compose, "-f", filepath.Join(deployDir, "compose.yaml"), "config", "-q").CombinedOutput(); err != nil {
			t.Errorf("%s config: %v\n%s", compose, err, out)
		}
	}

	// The profiles service, writing into nginx's docroot.
	ng := provtest.StartNginx(t, provtest.Options{})
	remap := func(args []string, from, to string) []string {
		out := slices.Clone(args)
		for i, a := range out {
			if strings.HasPrefix(a, from) {
				out[i] = to + strings.TrimPrefix(a, from)
			}
		}
		return out
	}
	if err := run(t.Context(), remap(prof.Command, out, ng.Docroot), io.Discard, io.Discard); err != nil {
		t.Fatalf("profiles service %v: %v", prof.Command, err)
	}
	// Kamailio with the compose configuration, its include from the volume.
	cfgText, err := os.ReadFile(kamCfg)
	if err != nil {
		t.Fatal(err)
	}
	kamMount := kam.mount("profiles")
	if !bytes.Contains(cfgText, []byte(`include_file "`+kamMount+"/")) {
		t.Fatalf("%s does not include the accounts from the profiles volume (%s)", kamCfg, kamMount)
	}
	k := siptest.StartKamailio(t, siptest.KamailioOptions{
		Config: strings.ReplaceAll(string(cfgText), `include_file "`+kamMount+"/", `include_file "`+ng.Docroot+"/")})
	// What Docker's DNS does: kamailio and nginx are names of their containers.
	registrar := ""
	for i, a := range prof.Command {
		if a == "--registrar" && i+1 < len(prof.Command) {
			registrar = prof.Command[i+1]
		}
	}
	profiles, _ := filepath.Glob(filepath.Join(ng.Docroot, "spa*.cfg"))
	if len(profiles) != 4 || registrar == "" {
		t.Fatalf("profiles %v, registrar %q", profiles, registrar)
	}
	for _, p := range profiles {
		b, _ := os.ReadFile(p)
		if !bytes.Contains(b, []byte(">"+registrar+"<")) {
			t.Fatalf("%s does not name the registrar %s:\n%s", p, registrar, b)
		}
		os.WriteFile(p, bytes.ReplaceAll(b, []byte(">"+registrar+"<"), []byte(">"+k.Addr+"<")), 0o644)
	}
	fleetText, err := os.ReadFile(fleetFile)
	if err != nil {
		t.Fatal(err)
	}
	ip := fmt.Sprintf("127.%d.%d.1", 100+rand.IntN(150), rand.IntN(250))
	ft := strings.ReplaceAll(string(fleetText), "http://nginx/", "http://127.0.0.1:"+strconv.Itoa(ng.HTTPPort)+"/")
	ft = strings.ReplaceAll(ft, "ip: auto", "ip: "+ip) // one loopback address a phone, counted up
	if ft == string(fleetText) {
		t.Fatalf("%s: no http://nginx/ Profile_Rule nor ip: auto to substitute", fleetFile)
	}
	tmpFleet := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(tmpFleet, []byte(ft), 0o644); err != nil {
		t.Fatal(err)
	}

	// The phones service.
	args := remap(phones.Command, fleetDst, tmpFleet)
	for i, a := range args {
		switch a {
		case "--data":
			args[i+1] = t.TempDir()
		case "--listen":
			args[i+1] = freeAddr(t)
		}
	}
	listen := args[slices.Index(args, "--listen")+1]
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	logs, done := runLogged(runCtx, append(args, "--log-format", "json"), io.Discard)
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("phones: %v", err)
		}
		if t.Failed() {
			t.Logf("phones' log:\n%s\nkamailio:\n%s", tail(logs.String(), 80), tail(k.Log(), 40))
		}
	})
	var webs []string
	var events []<-chan labEvent
	addr := net.ParseIP(ip).To4()
	for row := range 4 {
		a := net.IPv4(addr[0], addr[1], addr[2], addr[3]+byte(row))
		web := net.JoinHostPort(a.String(), strconv.Itoa(8080+row))
		logs.waitFor(t, `"addr":"`+web+`","boot_count"`, 60*time.Second) // its web server listening
		webs = append(webs, web)
		events = append(events, labEvents(t, ctx, web))
	}
	waitLabRegistered(t, ctx, events)
	caller, _ := labCall(t, ctx, webs, events, 0, 3, "1004")
	// The fleet listener sees the four registrations and the call (the status a scrape reads
	// follows the phones' loops: read until it has caught up, or the deadline).
	want := []string{`spa900_registrations{state="registered"} 4`, `spa900_calls{state="connected"} 2`}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for metrics := get(t, "http://"+listen+"/metrics"); ; metrics = get(t, "http://"+listen+"/metrics") {
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return strings.Contains(metrics, w+"\n") })
		if len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("fleet /metrics lacks %v", missing)
		case <-tick.C:
		}
	}
	res := postJSON(t, "http://"+webs[0]+"/api/v1/calls/"+caller+"/hangup", `{}`)
	res.Body.Close()
	waitLabEvent(t, ctx, events[3], "phone 4's call ended", func(e labEvent) bool { return e.Kind == "call" && e.State == "Ended" })
}

// composeBinary returns Compose's command where installed: Debian's docker-compose; under CI
// it must be (.ci/install-peers installs it).
func composeBinary(t *testing.T) string {
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("docker-compose is not installed (apt-get install docker-compose; .ci/install-peers does)")
	}
	t.Log("docker-compose is not installed: the compose file is checked by this test alone (apt-get install docker-compose)")
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
