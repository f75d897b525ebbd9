package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/spa900/spa900/provisioning/provtest"
)

// testComposeUp runs deploy/compose.yaml with Compose itself (docker compose, the v2 plugin,
// where the engine's client has it; else Debian's docker-compose 1.29), its services as the
// file has them, on the engine and the image TestDocker built: the profiles job writes the
// profiles and Kamailio's accounts, nginx serves them, Kamailio runs the lab's kamailio.cfg,
// and the fleet's four phones provision from nginx, register to Kamailio and call one another
// over the network Compose made. It asserts through the ports the file publishes (chosen at
// run time through the file's port variables, on loopback): the profiles from nginx, SIP
// OPTIONS answered by Kamailio, every phone in service (/readyz), provisioned and registered
// (/api/v1/fleet and each phone's status), a call answered with RTP both ways, Docker's
// health verdict of the phones; then `down -v` leaves nothing of the project, and the host's
// network as it was.
//
// The public images (nginx, Kamailio) are used where the engine can pull them, else replaced
// by stand-ins under their own names (standin_test.go). The network is Compose's own
// user-defined bridge: the engine runs with --bridge=none (no docker0 only),
// --iptables=false (it writes no host rule: none is needed on a bridge between containers;
// the embedded DNS at 127.0.0.11 is redirected by rules in each container's own network
// namespace, which the engine writes whatever --iptables says) and without forwarding
// (containers reach one another across the bridge, and the host reaches the published ports
// through docker-proxy, which connects to the container's address on the bridge). The
// bridge is removed by `down`; the test checks that it is gone and that no host rule named it.
func testComposeUp(t *testing.T, d *docker, image string) {
	repo := repoRoot(t)
	file := filepath.Join(repo, "deploy", "compose.yaml")
	var cf struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, s := range []string{"profiles", "nginx", "kamailio", "phones"} {
		if cf.Services[s].Image == "" {
			t.Fatalf("%s: service %s has no image", file, s)
		}
	}
	if cf.Services["phones"].Image != cf.Services["profiles"].Image {
		t.Fatalf("%s: phones run %s, profiles %s: want the one spa900 image", file, cf.Services["phones"].Image, cf.Services["profiles"].Image)
	}

	// The images: the one TestDocker built under the file's name (up --no-build: spa900 is
	// built once a run), the public ones pulled or stood in for.
	start := time.Now()
	d.output(t, "tag", image, cf.Services["profiles"].Image)
	build, changes := nginxStandIn(t)
	d.ensureImage(t, "nginx", cf.Services["nginx"].Image, build, changes...)
	build, changes = kamailioStandIn(t, filepath.Join(repo, "deploy", "compose", "kamailio.cfg"))
	d.ensureImage(t, "kamailio", cf.Services["kamailio"].Image, build, changes...)
	t.Logf("images ready in %v", time.Since(start).Round(10*time.Millisecond))

	// The published ports, on loopback, through the file's variables.
	web := provtest.FreeTCPRange(t, 4)
	ports := composePorts{web: web, fleet: provtest.FreeTCPPort(t), profiles: provtest.FreeTCPPort(t), sip: provtest.FreeUDPPort(t)}
	c := &compose{d: d, cmd: composeCommand(t, d), file: file, project: "spa900-test-" + randomHex(t, 4), env: ports.env()}
	t.Logf("%s, project %s, ports %v", strings.Join(c.cmd, " "), c.project, ports.env())

	start = time.Now()
	t.Cleanup(func() { c.cleanup(t) })
	c.run(t, "up", "-d", "--no-build")
	t.Logf("up -d in %v", time.Since(start).Round(10*time.Millisecond))
	nw := c.network(t)

	// Each step waits at most a minute for what it wants (a loaded machine starts the
	// services slowly; a missing one fails the step, not the steps after it).
	ctx := d.ctx
	step := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	lo := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

	t.Run("nginx serves the profiles", func(t *testing.T) {
		body := waitHTTP(t, step(t), lo(ports.profiles)+"/spa000e081ab001.cfg", http.StatusOK)
		if !strings.Contains(body, "<User_ID_1_>1001</User_ID_1_>") || !strings.Contains(body, ">kamailio:5060<") {
			t.Errorf("phone 1's profile from nginx:\n%s", body)
		}
	})
	t.Run("kamailio answers OPTIONS", func(t *testing.T) {
		if got := sipOptions(t, step(t), ports.sip); !strings.HasPrefix(got, "SIP/2.0 200 ") {
			t.Errorf("OPTIONS through the published SIP port: %q, want 200", got)
		}
	})
	t.Run("phones ready", func(t *testing.T) {
		body := waitHTTP(t, step(t), lo(ports.fleet)+"/readyz", http.StatusOK)
		if !strings.Contains(body, `"phones":4`) {
			t.Errorf("/readyz: %s, want four phones", body)
		}
	})
	phones := make([]*containerPhone, 4)
	for i := range phones {
		phones[i] = &containerPhone{name: fmt.Sprintf("phone %d", i+1), http: "127.0.0.1:" + strconv.Itoa(ports.web+i)}
	}
	registered := func(st *phoneStatus) bool {
		return len(st.Extensions) > 0 && st.Extensions[0].Registration == "Registered"
	}
	t.Run("provisioned and registered", func(t *testing.T) {
		fleet := waitFleet(t, step(t), lo(ports.fleet), func(f *fleetView) bool { return f.Counts["registered"] == 4 })
		for _, p := range fleet.Phones {
			if p.Resync != "success" || len(p.Lines) != 1 || p.Lines[0] != strconv.Itoa(1001+p.Index) {
				t.Errorf("/api/v1/fleet phone %d: %+v, want resynced and registered as %d", p.Index, p, 1001+p.Index)
			}
		}
		ctx := step(t)
		for i, p := range phones {
			st := p.waitStatus(t, registered)
			path := fmt.Sprintf("/spa000e081ab0%02x.cfg", i+1)
			u, err := url.Parse(st.Provisioning.LastURL)
			if st.Provisioning.LastResult != "success" || err != nil || u.Hostname() != "nginx" || u.Path != path {
				t.Errorf("%s: provisioning %+v, want a success from http://nginx%s", p.name, st.Provisioning, path)
			}
			// nginx's access log: the fetch came from the phone's address with its User-Agent
			// (Docker collects a container's output a moment after it is written).
			fetched := regexp.MustCompile(`(?m)\| ` + regexp.QuoteMeta(st.IP) + ` .*"GET ` + regexp.QuoteMeta(path) + ` HTTP/1\.1" 200 .*"` + regexp.QuoteMeta(st.UserAgent) + `"`)
			var access []byte
			if !poll(ctx, func() bool {
				access, _ = c.command(ctx, "logs", "--no-color", "nginx").CombinedOutput()
				return fetched.Match(access)
			}) {
				t.Errorf("%s: nginx logged no 200 for GET %s from %s with User-Agent %q:\n%s", p.name, path, st.IP, st.UserAgent, access)
			}
			if ip := net.ParseIP(st.IP); ip == nil || !nw.subnet.Contains(ip) {
				t.Errorf("%s: address %q, want one of Compose's network %s", p.name, st.IP, nw.subnet)
			}
			if !strings.HasPrefix(st.Extensions[0].SIPAddr, st.IP+":") {
				t.Errorf("%s: SIP address %q, want the container's %s", p.name, st.Extensions[0].SIPAddr, st.IP)
			}
		}
	})
	t.Run("1001 calls 1004", func(t *testing.T) {
		caller, callee := phones[0], phones[3]
		caller.waitStatus(t, registered)
		callee.waitStatus(t, registered)
		var placed struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(caller.post(t, "/api/v1/calls", `{"extension":1,"to":"1004"}`, http.StatusCreated)), &placed); err != nil {
			t.Fatal(err)
		}
		st := callee.waitStatus(t, func(st *phoneStatus) bool { return len(st.Calls) == 1 && st.Calls[0].State == "Ringing" })
		callee.post(t, "/api/v1/calls/"+st.Calls[0].ID+"/answer", `{}`, http.StatusOK)
		// Both ends send 50 packets a second: each reads what arrived from the other.
		for _, p := range []*containerPhone{caller, callee} {
			p.waitStatus(t, func(st *phoneStatus) bool {
				return len(st.Calls) == 1 && st.Calls[0].State == "Connected" && st.Calls[0].Receive != nil && st.Calls[0].Receive.PacketsRecv >= 25
			})
		}
		caller.post(t, "/api/v1/calls/"+placed.ID+"/hangup", `{}`, http.StatusOK)
		callee.waitStatus(t, func(st *phoneStatus) bool { return len(st.Calls) == 0 })
	})
	t.Run("healthy", func(t *testing.T) {
		// The file's own health check (spa900 health on the fleet's /readyz), every 10 s.
		id := strings.TrimSpace(c.output(t, "ps", "-q", "phones"))
		if id == "" {
			t.Fatal("no phones container")
		}
		if got := d.waitHealth(t, id, time.Minute); got != "healthy" {
			t.Errorf("phones container: health %q, want healthy", got)
		}
	})
	t.Run("no host rule", func(t *testing.T) {
		rules, err := exec.CommandContext(ctx, "iptables-save").Output()
		if err != nil {
			t.Fatalf("iptables-save: %v (iptables comes with docker.io)", err)
		}
		for _, s := range []string{nw.bridge, nw.subnet.String()} {
			if bytes.Contains(rules, []byte(s)) {
				t.Errorf("the host's iptables name %s:\n%s", s, rules)
			}
		}
	})

	if t.Failed() {
		c.logs(t)
	}
	start = time.Now()
	c.run(t, "down", "-v")
	t.Logf("down -v in %v", time.Since(start).Round(10*time.Millisecond))
	c.assertGone(t, nw)
}

// composePorts are the host ports the test publishes the lab on.
type composePorts struct {
	web, fleet, profiles, sip int
}

// env sets deploy/compose.yaml's port variables (README "Compose"), each on loopback only.
func (p composePorts) env() []string {
	return []string{
		fmt.Sprintf("SPA900_WEB_PORTS=127.0.0.1:%d-%d", p.web, p.web+3),
		fmt.Sprintf("SPA900_FLEET_PORT=127.0.0.1:%d", p.fleet),
		fmt.Sprintf("SPA900_PROFILES_PORT=127.0.0.1:%d", p.profiles),
		fmt.Sprintf("SPA900_SIP_PORT=127.0.0.1:%d", p.sip),
	}
}

// compose runs Compose on one project of the test's engine.
type compose struct {
	d       *docker
	cmd     []string // docker compose, or docker-compose
	file    string
	project string
	env     []string
}

// composeCommand is the engine client's compose plugin (Compose v2) where it has one, else
// Debian's docker-compose (1.29); under CI one of them must be there (.ci/install-peers
// installs docker-compose).
func composeCommand(t *testing.T, d *docker) []string {
	t.Helper()
	if d.cmd(d.ctx, nil, "compose", "version").Run() == nil {
		return []string{d.client, "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	t.Fatal("neither docker compose nor docker-compose: apt-get install docker-compose (.ci/install-peers does)")
	return nil
}

func (c *compose) command(ctx context.Context, args ...string) *exec.Cmd {
	all := append(append(c.cmd[1:len(c.cmd):len(c.cmd)], "-f", c.file, "-p", c.project), args...)
	cmd := exec.CommandContext(ctx, c.cmd[0], all...)
	cmd.Env = append(append(c.d.env[:len(c.d.env):len(c.d.env)], c.env...), "COMPOSE_ANSI=never", "NO_COLOR=1")
	return cmd
}

// output runs a compose command, failing the test on an error.
func (c *compose) output(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.command(c.d.ctx, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 60))
	}
	return string(out)
}

func (c *compose) run(t *testing.T, args ...string) { t.Helper(); c.output(t, args...) }

// cleanup shows the services' logs when the test failed, and takes the project down if the
// test did not get that far.
func (c *compose) cleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ids, _ := c.d.cmd(ctx, nil, "ps", "-aq", "--filter", "label=com.docker.compose.project="+c.project).Output()
	nets, _ := c.d.cmd(ctx, nil, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+c.project).Output()
	if len(bytes.TrimSpace(ids)) > 0 || len(bytes.TrimSpace(nets)) > 0 {
		if t.Failed() {
			c.logs(t)
		}
		if out, err := c.command(ctx, "down", "-v").CombinedOutput(); err != nil {
			t.Errorf("compose down -v: %v\n%s", err, tail(string(out), 30))
		}
	}
}

// logs shows the project's containers and the services' logs.
func (c *compose) logs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ps, _ := c.command(ctx, "ps", "-a").CombinedOutput()
	out, _ := c.command(ctx, "logs", "--no-color").CombinedOutput()
	t.Logf("compose ps -a:\n%s\ncompose logs:\n%s", ps, tail(string(out), 150))
}

// composeNetwork is the project's default network as the engine made it.
type composeNetwork struct {
	name   string
	bridge string // its Linux bridge on the host
	subnet *net.IPNet
}

// network reads the project's default network.
func (c *compose) network(t *testing.T) composeNetwork {
	t.Helper()
	out := strings.TrimSpace(c.d.output(t, "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+c.project))
	if out == "" || strings.Contains(out, "\n") {
		t.Fatalf("the project's networks: %q, want its default one", out)
	}
	f := strings.Fields(c.d.output(t, "network", "inspect", "-f", `{{.Name}} {{.Id}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}`, out))
	if len(f) != 4 || f[2] != "bridge" {
		t.Fatalf("network %v: want a bridge network with its subnet", f)
	}
	_, subnet, err := net.ParseCIDR(f[3])
	if err != nil {
		t.Fatal(err)
	}
	n := composeNetwork{name: f[0], bridge: "br-" + f[1][:12], subnet: subnet}
	if err := recordBridge(c.d.root, n.bridge); err != nil {
		t.Fatal(err)
	}
	if _, err := net.InterfaceByName(n.bridge); err != nil {
		t.Fatalf("network %s: no bridge %s on the host: %v", n.name, n.bridge, err)
	}
	return n
}

// assertGone checks that `down -v` left nothing of the project: no container, volume or
// network in the engine, no bridge on the host.
func (c *compose) assertGone(t *testing.T, n composeNetwork) {
	t.Helper()
	label := "label=com.docker.compose.project=" + c.project
	for _, what := range [][]string{{"ps", "-aq", "--filter", label}, {"volume", "ls", "-q", "--filter", label}, {"network", "ls", "-q", "--filter", label}} {
		if out := strings.TrimSpace(c.d.output(t, what...)); out != "" {
			t.Errorf("after down -v, docker %s: %s", strings.Join(what, " "), out)
		}
	}
	if _, err := net.InterfaceByName(n.bridge); err == nil {
		t.Errorf("after down -v, the bridge %s of network %s is still on the host", n.bridge, n.name)
	}
}

// fleetView is the part of /api/v1/fleet the test reads.
type fleetView struct {
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
	Phones []struct {
		Index  int      `json:"index"`
		MAC    string   `json:"mac"`
		State  string   `json:"state"`
		Lines  []string `json:"lines"`
		Resync string   `json:"last_resync"`
	} `json:"phones"`
}

// waitFleet polls the fleet's /api/v1/fleet until ok accepts it.
func waitFleet(t *testing.T, ctx context.Context, base string, ok func(*fleetView) bool) *fleetView {
	t.Helper()
	var last string
	var f *fleetView
	if poll(ctx, func() bool {
		body, code, err := httpGet(ctx, base+"/api/v1/fleet")
		last = fmt.Sprintf("%d %v %s", code, err, body)
		f = &fleetView{}
		return err == nil && code == http.StatusOK && json.Unmarshal([]byte(body), f) == nil && ok(f)
	}) {
		return f
	}
	t.Fatalf("/api/v1/fleet never as wanted; last: %s", last)
	return nil
}

// waitHTTP polls url until it answers code, and returns the body.
func waitHTTP(t *testing.T, ctx context.Context, url string, code int) string {
	t.Helper()
	var last string
	var body string
	if poll(ctx, func() bool {
		b, c, err := httpGet(ctx, url)
		body, last = b, fmt.Sprintf("%d %v %s", c, err, b)
		return err == nil && c == code
	}) {
		return body
	}
	t.Fatalf("GET %s: never %d; last: %s", url, code, last)
	return ""
}

// poll calls ok every 100 ms until it is true (true) or ctx ends (false).
func poll(ctx context.Context, ok func() bool) bool {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// sipOptions sends OPTIONS to Kamailio through the published SIP port and returns the first
// line of the final answer, retransmitting as RFC 3261 does (T1 = 500 ms) until one comes or
// ctx ends: Kamailio may still be starting.
func sipOptions(t *testing.T, ctx context.Context, port int) string {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr)
	tag, branch := randomHex(t, 4), randomHex(t, 8)
	req := strings.Join([]string{
		"OPTIONS sip:127.0.0.1:" + strconv.Itoa(port) + " SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/UDP %s;rport;branch=z9hG4bK%s", local, branch),
		"Max-Forwards: 70",
		"From: <sip:test@spa900.lab>;tag=" + tag,
		"To: <sip:127.0.0.1:" + strconv.Itoa(port) + ">",
		"Call-ID: " + randomHex(t, 8) + "@127.0.0.1",
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
		"", ""}, "\r\n")
	buf := make([]byte, 4096)
	wait := 500 * time.Millisecond
	for ctx.Err() == nil {
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break // no answer in time (or the port not yet bound: ICMP refused): again
			}
			line := firstLine(string(buf[:n]))
			if !strings.HasPrefix(line, "SIP/2.0 1") {
				return line
			}
		}
		wait = min(2*wait, 4*time.Second)
	}
	t.Fatalf("no answer to OPTIONS on 127.0.0.1:%d", port)
	return ""
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
