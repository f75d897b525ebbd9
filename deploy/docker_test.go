// Package deploy holds the tests of what ships beside the binary: the container image (the
// repository's Dockerfile) built and run for real, and, in the separate module under
// kubernetes/, the Kubernetes manifests.
//
// TestDocker needs root, Debian's docker.io, busybox-static, nginx-light, kamailio and
// docker-compose (`.ci/install-peers` installs them) and builds the image from scratch, so it
// runs under CI=true only:
//
//	sudo CI=true go test -run TestDocker -v ./deploy/               # both
//	sudo CI=true go test -run TestDocker/Container -v ./deploy/     # the image alone
//	sudo CI=true go test -run TestDocker/ComposeUp -v ./deploy/     # docker compose up
//
// It starts a private dockerd of its own (its own socket, data and exec roots; no default
// bridge, no iptables, no forwarding, so the host's network is left alone), makes the
// Dockerfile's build base locally from this machine's Go toolchain and CA bundle (no registry
// is reachable), builds the image with --network host once, runs phone containers on it
// (Container) and deploy/compose.yaml with Compose (ComposeUp, compose_test.go), and stops
// everything it started.
package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// TestDocker starts one private engine and builds the image once for its subtests: the image
// run as one phone a container (Container) and the Compose lab run by Compose (ComposeUp).
func TestDocker(t *testing.T) {
	d := startDocker(t)
	image := d.buildImage(t)
	t.Run("Container", func(t *testing.T) { testContainer(t, d, image) })
	t.Run("ComposeUp", func(t *testing.T) { testComposeUp(t, d, image) })
}

// testContainer proves that a container phone works as a QA engineer uses it: it takes the container's own address (--ip auto from the image's environment), turns
// healthy through the image's HEALTHCHECK, provisions itself from nginx on the host with its
// per-MAC profile, registers to Kamailio with digest authentication, and is called by a
// second container phone: it rings, answers, and RTP flows both ways. The profiles are
// written by the image itself (spa900 lab profiles, as deploy/compose.yaml's profiles
// service does), so that this is the Compose lab's topology without Compose. Each capability
// is a subtest on the same running containers.
func testContainer(t *testing.T, d *docker, image string) {
	// The profiles, from the image: phone 1 is extension 1001, phone 2 1002, both on
	// Kamailio with the passwords lab-1001 and lab-1002.
	k := siptest.StartKamailio(t, siptest.KamailioOptions{Users: []siptest.User{{Name: "1001", Password: "lab-1001"}, {Name: "1002", Password: "lab-1002"}}})
	prov := provtest.StartNginx(t, provtest.Options{})
	if err := os.Chmod(prov.Docroot, 0o777); err != nil { // the image runs as 65532
		t.Fatal(err)
	}
	d.output(t, "run", "--rm", "--network", "none", "-v", prov.Docroot+":/profiles", image,
		"lab", "profiles", "--phones", "2", "--registrar", k.Addr, "--out", "/profiles")
	const mac1, mac2 = "00:0e:08:1a:b0:01", "00:0e:08:1a:b0:02"
	if prof := readFile(filepath.Join(prov.Docroot, "spa000e081ab001.cfg")); !strings.Contains(prof, "<User_ID_1_>1001</User_ID_1_>") {
		t.Fatalf("the image's profile of phone 1:\n%s", prof)
	}
	// Both phones share the host's network: each takes SIP ports of its own, and lines 2 to
	// 4 stay off from the first boot.
	phoneArgs := func(mac string) []string {
		return []string{"--mac", mac, "--boot-time", "0",
			"--set", "Resync_Random_Delay=0",
			"--set", fmt.Sprintf("Profile_Rule=http://127.0.0.1:%d/spa$MA.cfg", prov.HTTPPort),
			"--set", "SIP_Port_1_=" + strconv.Itoa(provtest.FreeUDPPort(t)),
			"--set", "Line_Enable_2_=No", "--set", "Line_Enable_3_=No", "--set", "Line_Enable_4_=No"}
	}
	p := d.runPhone(t, image, "phone1", phoneArgs(mac1)...)
	p2 := d.runPhone(t, image, "phone2", phoneArgs(mac2)...)

	t.Run("address", func(t *testing.T) {
		st := p.status(t)
		ip := net.ParseIP(st.IP)
		if ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
			t.Errorf("status ip %q: want the container's own non-loopback address (SPA900_IP=auto)", st.IP)
		}
	})
	t.Run("healthy", func(t *testing.T) {
		if got := d.waitHealth(t, p.name, 30*time.Second); got != "healthy" {
			t.Errorf("health %q, want healthy", got)
		}
	})
	t.Run("logs are JSON", func(t *testing.T) {
		sc := bufio.NewScanner(strings.NewReader(d.output(t, "logs", p.name)))
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
			}
		}
	})
	t.Run("provisioned", func(t *testing.T) {
		st := p.waitStatus(t, func(st *phoneStatus) bool { return st.Provisioning.LastResult != "" })
		if st.Provisioning.LastResult != "success" {
			t.Fatalf("resync %s: %s", st.Provisioning.LastResult, st.Provisioning.LastError)
		}
		want := "/spa000e081ab001.cfg"
		e := prov.WaitAccess(t, func(e provtest.AccessEntry) bool { return e.URI == want })
		if e.Status != 200 || e.UserAgent != st.UserAgent || !strings.HasPrefix(e.UserAgent, "Linksys/SPA-942-5.1.10 (") {
			t.Errorf("access log: %+v; want 200 with the phone's User-Agent %q", e, st.UserAgent)
		}
		if e.RemoteAddr != st.IP {
			t.Errorf("the request came from %s, want the phone's address %s", e.RemoteAddr, st.IP)
		}
		export := p.get(t, "/admin/spacfg.xml")
		for _, v := range []string{">Lab 1001</Station_Name>", ">1001</User_ID_1_>", ">No</Line_Enable_2_>"} {
			if !strings.Contains(export, v) {
				t.Errorf("export lacks %s", v)
			}
		}
	})
	registered := func(st *phoneStatus) bool {
		return len(st.Extensions) > 0 && st.Extensions[0].Registration == "Registered"
	}
	t.Run("registers", func(t *testing.T) {
		for _, cp := range []*containerPhone{p, p2} {
			st := cp.waitStatus(t, registered)
			if st.Extensions[0].SIPAddr == "" || !strings.HasPrefix(st.Extensions[0].SIPAddr, st.IP+":") {
				t.Errorf("%s: Ext 1 SIP address %q, want the container's address %s", cp.name, st.Extensions[0].SIPAddr, st.IP)
			}
		}
		users := map[string]bool{}
		for _, b := range k.Bindings(t) {
			users[strings.SplitN(b.AOR, "@", 2)[0]] = true
		}
		if !users["1001"] || !users["1002"] {
			t.Errorf("Kamailio's bindings: %+v; want 1001 and 1002", k.Bindings(t))
		}
	})
	t.Run("is called", func(t *testing.T) {
		p.waitStatus(t, registered)
		p2.waitStatus(t, registered)
		var placed struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(p2.post(t, "/api/v1/calls", `{"extension":1,"to":"1001"}`, http.StatusCreated)), &placed); err != nil {
			t.Fatal(err)
		}
		st := p.waitStatus(t, func(st *phoneStatus) bool { return len(st.Calls) == 1 && st.Calls[0].State == "Ringing" })
		if st.Calls[0].Direction != "inbound" {
			t.Errorf("the call at phone 1: %+v", st.Calls[0])
		}
		p.post(t, "/api/v1/calls/"+st.Calls[0].ID+"/answer", `{}`, http.StatusOK)
		p2.waitStatus(t, func(st *phoneStatus) bool { return len(st.Calls) == 1 && st.Calls[0].State == "Connected" })
		// Both ends send 50 packets a second: RTP has no event; read the phones' counters.
		for _, cp := range []*containerPhone{p, p2} {
			cp.waitMetric(t, `spa900_rtp_packets_total{direction="received"}`, 25)
		}
		p2.post(t, "/api/v1/calls/"+placed.ID+"/hangup", `{}`, http.StatusOK)
		p.waitStatus(t, func(st *phoneStatus) bool { return len(st.Calls) == 0 })
	})
}

// docker is a private Docker engine started by the test.
type docker struct {
	client string   // the docker client binary
	env    []string // DOCKER_HOST and the legacy builder
	root   string   // data, exec roots and the socket
	// ctx ends a minute and a half before the test's deadline, so that a build that runs
	// too long is stopped and the cleanup still stops dockerd.
	ctx context.Context
}

// startDocker starts dockerd with its own roots and socket, without touching the host's
// network, and stops it (and every container it runs) when the test ends.
func startDocker(t *testing.T) *docker {
	t.Helper()
	if os.Getenv("CI") != "true" {
		t.Skip("builds and runs the container image: run it as root with docker.io and busybox-static installed: sudo CI=true go test -run TestDocker -v ./deploy/ (bash .ci/run does)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("TestDocker must run as root (it starts dockerd)")
	}
	dockerd := provtest.RequirePeer(t, "dockerd", "docker.io")
	d := &docker{client: debianClient(t), ctx: t.Context()}
	if deadline, ok := t.Deadline(); ok {
		ctx, cancel := context.WithDeadline(t.Context(), deadline.Add(-90*time.Second))
		t.Cleanup(cancel)
		d.ctx = ctx
	}
	sweepStaleDockerRoots(t)
	// A short path: the engine's sockets must fit in a sockaddr_un.
	root, err := os.MkdirTemp("", strings.TrimSuffix(dockerRootPattern, "*"))
	if err != nil {
		t.Fatal(err)
	}
	d.root = root
	sock := filepath.Join(root, "docker.sock")
	d.env = append(os.Environ(), "DOCKER_HOST=unix://"+sock, "DOCKER_BUILDKIT=0")
	logf, err := os.Create(filepath.Join(root, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dockerd,
		"--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--ip6tables=false",
		"--host", "unix://"+sock, "--data-root", filepath.Join(root, "data"), "--exec-root", filepath.Join(root, "exec"),
		"--pidfile", filepath.Join(root, "docker.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { d.stop(t, cmd, exited) })

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := d.cmd(ctx, nil, "info").Run(); err == nil {
			return d
		}
		select {
		case <-exited:
			t.Fatalf("dockerd exited:\n%s", readFile(filepath.Join(root, "dockerd.log")))
		case <-ctx.Done():
			t.Fatalf("dockerd not ready:\n%s", readFile(filepath.Join(root, "dockerd.log")))
		case <-tick.C:
		}
	}
}

// stop removes the engine's containers, stops dockerd by its PID, unmounts the network
// namespace mount it leaves behind (and whatever else is mounted under its roots), and
// removes its roots.
func (d *docker) stop(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if ids, err := d.cmd(ctx, nil, "ps", "-aq").Output(); err == nil && len(bytes.TrimSpace(ids)) > 0 {
		args := append([]string{"rm", "-f"}, strings.Fields(string(ids))...)
		if out, err := d.cmd(ctx, nil, args...).CombinedOutput(); err != nil {
			t.Errorf("docker rm: %v\n%s", err, out)
		}
	}
	pid := cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	// The network namespace mount dockerd leaves (exec/netns/default), and any other mount
	// an engine stopped by force leaves under its roots.
	for _, m := range mountsUnder(d.root) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("umount %s: %v", m, err)
		}
	}
	if t.Failed() {
		t.Logf("dockerd log:\n%s", tail(readFile(filepath.Join(d.root, "dockerd.log")), 40))
	}
	if err := os.RemoveAll(d.root); err != nil {
		t.Errorf("remove the engine's roots: %v", err)
	}
}

// debianClient returns Debian's docker client (docker.io), which matches Debian's dockerd; a
// newer client found first on the PATH may speak an API version the engine lacks.
func debianClient(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	return provtest.RequirePeer(t, "docker", "docker.io")
}

func (d *docker) cmd(ctx context.Context, stdin io.Reader, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, d.client, args...)
	c.Env, c.Stdin = d.env, stdin
	return c
}

// output runs a docker command and returns its output, failing the test on an error.
func (d *docker) output(t *testing.T, args ...string) string {
	t.Helper()
	out, err := d.cmd(d.ctx, nil, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 60))
	}
	return string(out)
}

// buildImage makes the Dockerfile's build base from this machine's Go and CA bundle, then
// builds the repository's Dockerfile unchanged, with the host's network for the module
// download.
func (d *docker) buildImage(t *testing.T) string {
	t.Helper()
	repo := repoRoot(t)
	dockerfile := readFile(filepath.Join(repo, "Dockerfile"))
	m := regexp.MustCompile(`(?m)^ARG GO_IMAGE=(\S+)$`).FindStringSubmatch(dockerfile)
	if m == nil {
		t.Fatal("Dockerfile: no ARG GO_IMAGE=<build base>")
	}
	start := time.Now()
	caches := warmCaches(t, repo)
	t.Logf("build and module caches warmed on the host in %v", time.Since(start).Round(100*time.Millisecond))
	start = time.Now()
	d.importBase(t, m[1], caches)
	t.Logf("build base %s imported in %v", m[1], time.Since(start).Round(100*time.Millisecond))

	const image = "spa900:test"
	start = time.Now()
	proxy, _ := exec.Command("go", "env", "GOPROXY").Output()
	d.output(t, "build", "--network", "host", "--build-arg", "GOPROXY="+strings.TrimSpace(string(proxy)),
		"--build-arg", "VERSION=test", "-t", image, repo)
	size := strings.TrimSpace(d.output(t, "image", "inspect", "-f", "{{.Size}}", image))
	n, _ := strconv.ParseInt(size, 10, 64)
	t.Logf("image %s built in %v: %.1f MB", image, time.Since(start).Round(100*time.Millisecond), float64(n)/1e6)
	if n > 40e6 {
		t.Errorf("image is %d bytes: want a small static image", n)
	}
	cfg := d.output(t, "image", "inspect", "-f", "{{.Config.User}} {{json .Config.Healthcheck.Test}} {{index .Config.Labels \"org.opencontainers.image.title\"}}", image)
	if !strings.HasPrefix(cfg, "65532:65532 ") || !strings.Contains(cfg, `"/spa900","health"`) || !strings.Contains(cfg, " spa900") {
		t.Errorf("image config %q: want a non-root user, the health check and OCI labels", cfg)
	}
	return image
}

// imageCaches are the host's caches the build base carries: a Go build cache holding the
// image's build (the same toolchain, CGO_ENABLED=0, -trimpath: the container's compiles are
// cache hits and only the link runs), and a module download cache (the Dockerfile's go mod
// download then needs no network).
type imageCaches struct {
	build    string    // GOCACHE
	since    time.Time // the build cache's entries used by this build are not older
	download string    // GOMODCACHE/cache/download
}

// warmCaches builds the image's binary on the host, as the Dockerfile does, into a build
// cache and a module cache of the image's own under the user's cache directory (kept from
// run to run, as CI keeps ~/.cache: the container test's cost is then the image's link and
// layers, not a compile of everything from nothing). Modules come from the host's module
// cache first, then its GOPROXY.
func warmCaches(t *testing.T, repo string) imageCaches {
	t.Helper()
	ucd, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(ucd, "spa900-image")
	c := imageCaches{build: filepath.Join(dir, "go-build"), download: filepath.Join(dir, "mod", "cache", "download"),
		since: time.Now().Add(-time.Hour - 5*time.Minute)} // Go refreshes an entry's time when older than an hour
	env := func(name string) string {
		out, _ := exec.Command("go", "env", name).Output()
		return strings.TrimSpace(string(out))
	}
	proxy := env("GOPROXY")
	if hostMods := env("GOMODCACHE"); hostMods != "" {
		proxy = "file://" + filepath.Join(hostMods, "cache", "download") + "," + proxy
	}
	for _, args := range [][]string{
		{"mod", "download"},
		{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(t.TempDir(), "spa900"), "./cmd/spa900"},
	} {
		cmd := exec.CommandContext(t.Context(), "go", args...)
		cmd.Dir = repo
		// -buildvcs=false: the build context has no .git (.dockerignore), so the image's
		// binary carries no VCS stamp either.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOCACHE="+c.build,
			"GOMODCACHE="+filepath.Join(dir, "mod"), "GOPROXY="+proxy)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 30))
		}
	}
	return c
}

// importBase imports a root file system with busybox (the shell of RUN), this machine's Go
// toolchain, its CA bundle and the warmed caches, tagged as the Dockerfile's build base: the
// same Dockerfile builds unchanged where the real image can be pulled.
func (d *docker) importBase(t *testing.T, tag string, caches imageCaches) {
	t.Helper()
	busybox := provtest.RequirePeer(t, "busybox", "busybox-static")
	goroot := runtime.GOROOT()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeBase(pw, busybox, goroot, caches)) }()
	out, err := d.cmd(d.ctx, pr, "import",
		"-c", "ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"-c", "ENV GOPATH=/go", "-c", "ENV GOTOOLCHAIN=local", "-c", "ENV GOCACHE=/root/.cache/go-build", "-c", "WORKDIR /go",
		"-", tag).CombinedOutput()
	pr.Close()
	if err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
}

// writeBase writes the build base as a tar stream.
func writeBase(w io.Writer, busybox, goroot string, caches imageCaches) error {
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, dd := range []string{"bin", "etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/local", "go", "root"} {
		if err := dir(dd, 0o755); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := file("bin/busybox", 0o755, bb); err != nil {
		return err
	}
	for _, applet := range []string{"sh", "ls", "cat", "mkdir", "rm", "cp", "mv", "env", "printf", "sleep", "true"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}); err != nil {
			return err
		}
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return err
	}
	if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, ca); err != nil {
		return err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return err
	}
	// The toolchain, without what building needs not: its own tests and test data.
	if err := addTree(tw, goroot, "usr/local/go", func(rel string, e fs.DirEntry, info fs.FileInfo) bool {
		return !(e.IsDir() && (rel == "test" || e.Name() == "testdata"))
	}); err != nil {
		return err
	}
	// The caches: the module downloads whole, the build cache's entries this build used.
	for _, dd := range []string{"root/.cache", "go/pkg", "go/pkg/mod", "go/pkg/mod/cache"} {
		if err := dir(dd, 0o755); err != nil {
			return err
		}
	}
	if err := addTree(tw, caches.download, "go/pkg/mod/cache/download", nil); err != nil {
		return err
	}
	if err := addTree(tw, caches.build, "root/.cache/go-build", func(rel string, e fs.DirEntry, info fs.FileInfo) bool {
		return e.IsDir() || !info.ModTime().Before(caches.since)
	}); err != nil {
		return err
	}
	return tw.Close()
}

// addTree adds the tree at root to tw under name, with root's owner, the entries keep
// accepts (nil: all; a directory refused is skipped whole).
func addTree(tw *tar.Writer, root, name string, keep func(rel string, e fs.DirEntry, info fs.FileInfo) bool) error {
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := e.Info()
		if err != nil {
			return err
		}
		if keep != nil && !keep(rel, e, info) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(filepath.Join(name, rel))
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if e.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// containerPhone is a phone running in a container on the host's network.
type containerPhone struct {
	name string
	http string // its web server, on loopback
}

// runPhone starts the image as a phone container: the image's own environment (SPA900_IP
// auto, JSON logs, /data), its web server on a free loopback port, and the health check every
// second so that the test need not wait Docker's default 30 s.
func (d *docker) runPhone(t *testing.T, image, name string, args ...string) *containerPhone {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(provtest.FreeTCPPort(t)))
	run := []string{"run", "-d", "--name", name, "--network", "host",
		"--health-interval", "1s", "--health-start-period", "0s",
		"-e", "SPA900_HTTP=" + addr, image}
	d.output(t, append(run, args...)...)
	p := &containerPhone{name: name, http: addr}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := d.cmd(context.Background(), nil, "logs", name).CombinedOutput()
			t.Logf("container %s logs:\n%s", name, tail(string(out), 40))
		}
		// Gone with its test, so that the next subtest has the engine (and the host's
		// ports) to itself.
		if out, err := d.cmd(context.Background(), nil, "rm", "-f", name).CombinedOutput(); err != nil {
			t.Errorf("docker rm %s: %v\n%s", name, err, out)
		}
	})
	p.waitStatus(t, func(st *phoneStatus) bool { return st.State == "running" })
	return p
}

// waitHealth waits until Docker's health check of the container has a verdict.
func (d *docker) waitHealth(t *testing.T, name string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := d.cmd(ctx, nil, "inspect", "-f", "{{.State.Health.Status}}", name).Output()
		if s := strings.TrimSpace(string(out)); err == nil && s != "starting" {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("container %s: no health verdict", name)
		case <-tick.C:
		}
	}
}

// phoneStatus is the part of /api/v1/status the test reads.
type phoneStatus struct {
	State        string `json:"state"`
	MAC          string `json:"mac"`
	IP           string `json:"ip"`
	UserAgent    string `json:"http_user_agent"`
	Provisioning struct {
		LastResult string `json:"last_result"`
		LastError  string `json:"last_error"`
		LastURL    string `json:"last_url"`
	} `json:"provisioning"`
	Extensions []struct {
		Index        int    `json:"index"`
		Registration string `json:"registration"`
		SIPAddr      string `json:"sip_addr"`
	} `json:"extensions"`
	Calls []struct {
		ID        string `json:"id"`
		Direction string `json:"direction"`
		State     string `json:"state"`
		Receive   *struct {
			PacketsRecv uint64 `json:"packets_recv"`
		} `json:"receive"`
	} `json:"calls"`
}

// post sends a JSON body to the phone's API and wants the code.
func (p *containerPhone) post(t *testing.T, path, body string, code int) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+p.http+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != code {
		t.Fatalf("POST %s: %s %s, want %d", path, res.Status, b, code)
	}
	return string(b)
}

// waitMetric polls the phone's /metrics until the series reaches at least min.
func (p *containerPhone) waitMetric(t *testing.T, series string, min float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := -1.0
	for {
		body, code, err := httpGet(ctx, "http://"+p.http+"/metrics")
		if err == nil && code == http.StatusOK {
			for _, line := range strings.Split(body, "\n") {
				if v, ok := strings.CutPrefix(line, series+" "); ok {
					last, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
				}
			}
			if last >= min {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("container phone %s: %s = %v, want at least %v", p.name, series, last, min)
		case <-tick.C:
		}
	}
}

func (p *containerPhone) get(t *testing.T, path string) string {
	t.Helper()
	body, code, err := httpGet(t.Context(), "http://"+p.http+path)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", path, code, err, body)
	}
	return body
}

func (p *containerPhone) status(t *testing.T) *phoneStatus {
	t.Helper()
	var st phoneStatus
	if err := json.Unmarshal([]byte(p.get(t, "/api/v1/status")), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// waitStatus polls the phone's status until ok accepts it (the phone answers nothing while it
// starts, so there is no event stream to wait on yet).
func (p *containerPhone) waitStatus(t *testing.T, ok func(*phoneStatus) bool) *phoneStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		body, code, err := httpGet(ctx, "http://"+p.http+"/api/v1/status")
		if err == nil && code == http.StatusOK {
			var st phoneStatus
			if json.Unmarshal([]byte(body), &st) == nil && ok(&st) {
				return &st
			}
		}
		last = fmt.Sprintf("%d %v %s", code, err, body)
		select {
		case <-ctx.Done():
			t.Fatalf("container phone %s: status never as wanted; last: %s", p.name, last)
		case <-tick.C:
		}
	}
}

func httpGet(ctx context.Context, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// repoRoot is the module root: the directory above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod above %s", wd)
	}
	return root
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
