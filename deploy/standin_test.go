package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The public images deploy/compose.yaml runs beside the spa900 image (nginx:1.27-alpine and
// ghcr.io/kamailio/kamailio-ci:5.8) cannot be pulled where CI runs: no registry is reachable.
// ensureImage uses the real image wherever the engine has it or can pull it, and only then
// makes a stand-in from this machine's Debian packages (nginx-light, kamailio), imported with
// `docker import` under the compose file's own name, as the Go build base is (importBase), so
// that the compose file runs unchanged here and for users who can pull.
//
// A stand-in is honest because it keeps exactly the contract the compose file relies on, and
// nothing of the stand-in is known to the compose file or to the phones:
//
//   - nginx: the default command (`nginx -g 'daemon off;'`, no entrypoint arguments needed)
//     serves /usr/share/nginx/html on port 80 with index.html, the master running as root and
//     the workers as the unprivileged user nginx (uid 101), as the image's nginx.conf does;
//     the access log on stdout and the error log on stderr (the image's symlinks). The compose file mounts the profiles
//     volume read-only over the docroot and publishes port 80: the workers must be able to
//     read what the profiles service wrote, as they must in the real image. The binary is
//     Debian's nginx 1.22, not Alpine's 1.27: serving static files by name is the same in both.
//     One difference: docker import cannot set the image's STOPSIGNAL SIGQUIT, so `down`
//     stops the stand-in with SIGTERM, nginx's fast shutdown (it drops requests in flight;
//     there are none by then).
//   - kamailio: `kamailio` on the PATH (the image's entrypoint is `kamailio -DD -E`, which
//     the compose file replaces with its own `kamailio -DD -E -f …`), running as root, with
//     every module deploy/compose/kamailio.cfg loads in the binary's default module path, so
//     that the compose configuration itself is what runs. The binary is Debian's kamailio
//     (5.6), not 5.8: the configuration uses only core functions and modules both have.
//
// Each stand-in holds the binary, the shared libraries `ldd` names (for the modules too), and
// the minimal /etc the program reads (passwd and group for its users, nsswitch.conf for
// names); /etc/resolv.conf and /etc/hosts are Docker's, as in any image. Its
// org.opencontainers.image.description label says it is a stand-in, made from what.
func (d *docker) ensureImage(t *testing.T, service, image string, standIn func(*rootFS) error, changes ...string) {
	t.Helper()
	if d.cmd(d.ctx, nil, "image", "inspect", image).Run() == nil {
		t.Logf("%s: the engine has %s", service, image)
		return
	}
	ctx, cancel := context.WithTimeout(d.ctx, 2*time.Minute)
	defer cancel()
	out, err := d.cmd(ctx, nil, "pull", "-q", image).CombinedOutput()
	if err == nil {
		t.Logf("%s: pulled %s", service, image)
		return
	}
	start := time.Now()
	pr, pw := io.Pipe()
	go func() {
		r := newRootFS(pw)
		err := standIn(r)
		if err == nil {
			err = r.close()
		}
		pw.CloseWithError(err)
	}()
	args := []string{"import"}
	for _, c := range append(changes, fmt.Sprintf(`LABEL org.opencontainers.image.description="stand-in for %s made by deploy's tests from this machine's packages"`, image)) {
		args = append(args, "-c", c)
	}
	imp, err := d.cmd(d.ctx, pr, append(args, "-", image)...).CombinedOutput()
	pr.Close()
	if err != nil {
		t.Fatalf("%s: the stand-in for %s: docker import: %v\n%s", service, image, err, imp)
	}
	size := strings.TrimSpace(d.output(t, "image", "inspect", "-f", "{{.Size}}", image))
	t.Logf("%s: %s cannot be pulled (%s): a stand-in from this machine's packages, %s bytes, imported in %v",
		service, image, strings.TrimSpace(tail(string(out), 1)), size, time.Since(start).Round(10*time.Millisecond))
}

// nginxStandIn writes the root file system of the nginx stand-in (see ensureImage).
func nginxStandIn(t *testing.T) (func(*rootFS) error, []string) {
	t.Helper()
	nginx := requireBinary(t, "nginx", "nginx-light")
	build := func(r *rootFS) error {
		if err := r.elf(nginx); err != nil {
			return err
		}
		mime, err := os.ReadFile("/etc/nginx/mime.types")
		if err != nil {
			return fmt.Errorf("nginx's mime.types: %w", err)
		}
		for _, f := range []struct {
			name string
			data string
		}{
			{"etc/nginx/nginx.conf", nginxConf},
			{"etc/nginx/mime.types", string(mime)},
			{"etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"},
			{"etc/group", "root:x:0:\nnginx:x:101:nginx\nnogroup:x:65534:\n"},
			{"etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"},
			{"usr/share/nginx/html/index.html", "<!DOCTYPE html>\n<title>nginx stand-in</title>\n<p>nginx serves /usr/share/nginx/html.\n"},
		} {
			if err := r.file(f.name, 0o644, []byte(f.data)); err != nil {
				return err
			}
		}
		// Debian's nginx keeps its temporary files under /var/lib/nginx (compiled in).
		for _, dir := range []string{"var/lib/nginx", "var/cache/nginx", "var/log/nginx", "run", "root"} {
			if err := r.dir(dir, 0o755); err != nil {
				return err
			}
		}
		if err := r.symlink("var/run", "/run"); err != nil {
			return err
		}
		if err := r.dir("tmp", 0o1777); err != nil {
			return err
		}
		if err := r.symlink("var/log/nginx/access.log", "/dev/stdout"); err != nil {
			return err
		}
		return r.symlink("var/log/nginx/error.log", "/dev/stderr")
	}
	return build, []string{
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"EXPOSE 80", `CMD ["nginx", "-g", "daemon off;"]`,
	}
}

// nginxConf is the stand-in's configuration: what the real image's nginx.conf and
// conf.d/default.conf do, IPv4 only (the compose network has no IPv6).
const nginxConf = `user nginx;
worker_processes auto;
error_log /var/log/nginx/error.log notice;
pid /run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /var/log/nginx/access.log;
    sendfile on;
    keepalive_timeout 65;

    server {
        listen 80;
        server_name localhost;
        location / {
            root /usr/share/nginx/html;
            index index.html index.htm;
        }
    }
}
`

// kamailioStandIn writes the root file system of the Kamailio stand-in (see ensureImage):
// the binary and each module the configuration cfg loads.
func kamailioStandIn(t *testing.T, cfg string) (func(*rootFS) error, []string) {
	t.Helper()
	kamailio := requireBinary(t, "kamailio", "kamailio")
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var modules []string
	for _, m := range regexp.MustCompile(`(?m)^\s*loadmodule\s+"([^"]+)"`).FindAllStringSubmatch(string(text), -1) {
		modules = append(modules, m[1])
	}
	if len(modules) == 0 {
		t.Fatalf("%s loads no module", cfg)
	}
	// The binary's module path, as it prints it.
	info, err := exec.Command(kamailio, "-I").CombinedOutput()
	if err != nil {
		t.Fatalf("kamailio -I: %v\n%s", err, info)
	}
	m := regexp.MustCompile(`(?m)Default paths to modules:\s*(\S+)`).FindSubmatch(info)
	if m == nil {
		t.Fatalf("kamailio -I names no module path:\n%s", info)
	}
	dirs := strings.Split(string(m[1]), ":")
	var paths []string
	for _, mod := range modules {
		found := ""
		for _, dir := range dirs {
			if p := filepath.Join(dir, mod); fileExists(p) {
				found = p
				break
			}
		}
		if found == "" {
			t.Fatalf("%s loads %s, which is in none of %v (apt-get install the kamailio module package)", cfg, mod, dirs)
		}
		paths = append(paths, found)
	}
	version, _ := exec.Command(kamailio, "-v").Output()
	t.Logf("kamailio stand-in: %s, modules %s", firstLine(string(version)), strings.Join(modules, " "))
	build := func(r *rootFS) error {
		for _, p := range append([]string{kamailio}, paths...) {
			if err := r.elf(p); err != nil {
				return err
			}
		}
		for _, f := range []struct{ name, data string }{
			{"etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"},
			{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
			{"etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"},
		} {
			if err := r.file(f.name, 0o644, []byte(f.data)); err != nil {
				return err
			}
		}
		// Its runtime directory (/var/run/kamailio, compiled in), made at start-up if absent
		// but not its parents.
		for _, dir := range []string{"run/kamailio", "root", "etc/kamailio"} {
			if err := r.dir(dir, 0o755); err != nil {
				return err
			}
		}
		if err := r.symlink("var/run", "/run"); err != nil {
			return err
		}
		return r.dir("tmp", 0o1777)
	}
	return build, []string{
		"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"EXPOSE 5060/udp 5060/tcp", `ENTRYPOINT ["kamailio", "-DD", "-E"]`,
	}
}

// requireBinary finds a program of the machine for a stand-in: under CI it must be there
// (.ci/install-peers installs the package).
func requireBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s is not installed: apt-get install %s (.ci/install-peers does)", name, pkg)
	return ""
}

// rootFS writes a root file system as a tar stream for docker import: each file at its path
// on this machine with its parent directories, and the machine's top-level links (/lib ->
// usr/lib on a merged /usr), so that every path a binary or ldd names resolves as it does
// here.
type rootFS struct {
	tw    *tar.Writer
	names map[string]bool // what is written, by name without the trailing slash
}

func newRootFS(w io.Writer) *rootFS {
	r := &rootFS{tw: tar.NewWriter(w), names: map[string]bool{}}
	for _, top := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		if target, err := os.Readlink("/" + top); err == nil {
			r.names[top] = true
			r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: top, Linkname: target, Mode: 0o777})
		}
	}
	return r
}

func (r *rootFS) close() error { return r.tw.Close() }

// parents writes the directories above name that are not written yet.
func (r *rootFS) parents(name string) error {
	dir := filepath.Dir(name)
	if dir == "." || r.names[dir] {
		return nil
	}
	if err := r.parents(dir); err != nil {
		return err
	}
	return r.dir(dir, 0o755)
}

func (r *rootFS) dir(name string, mode int64) error {
	if r.names[name] {
		return nil
	}
	if err := r.parents(name); err != nil {
		return err
	}
	r.names[name] = true
	return r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode})
}

func (r *rootFS) file(name string, mode int64, data []byte) error {
	if r.names[name] {
		return nil
	}
	if err := r.parents(name); err != nil {
		return err
	}
	r.names[name] = true
	if err := r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := r.tw.Write(data)
	return err
}

func (r *rootFS) symlink(name, target string) error {
	if err := r.parents(name); err != nil {
		return err
	}
	r.names[name] = true
	return r.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
}

// hostFile copies a file of this machine (its content, following links) to the path its
// directory really has here (/lib/x86_64-linux-gnu/libz.so.1 is written as
// usr/lib/x86_64-linux-gnu/libz.so.1 on a merged /usr; the top-level links lead there).
func (r *rootFS) hostFile(path string) error {
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return r.file(strings.TrimPrefix(filepath.Join(dir, filepath.Base(path)), "/"), int64(info.Mode().Perm()), data)
}

// elf copies an executable or a shared object and every shared library ldd says it loads
// (the dynamic loader among them).
func (r *rootFS) elf(path string) error {
	if err := r.hostFile(path); err != nil {
		return err
	}
	libs, err := lddLibraries(path)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		if err := r.hostFile(lib); err != nil {
			return err
		}
	}
	return nil
}

// lddLibraries lists the files of the shared libraries ldd resolves for path ("libc.so.6 =>
// /lib/…/libc.so.6 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)"); the kernel's vDSO has no
// file. A library ldd cannot find is an error.
func lddLibraries(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", path, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if _, right, ok := strings.Cut(line, "=>"); ok {
			f := strings.Fields(right)
			if len(f) == 0 || f[0] == "not" {
				return nil, fmt.Errorf("ldd %s: %s", path, line)
			}
			if strings.HasPrefix(f[0], "/") {
				libs = append(libs, f[0])
			}
			continue
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
