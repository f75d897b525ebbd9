// Package kubernetes tests the Kubernetes manifests beside it without a cluster: it renders
// the kustomization (the kustomize API, as `kubectl kustomize` does), decodes every object
// strictly into the Kubernetes API types (an unknown field or a wrong type fails), checks what
// ties the objects together (selectors, the Service, ports of the probes, the ConfigMap), and
// expands the ConfigMap's fleet file for 100 replicas to prove that their MACs, extensions and
// per-pod ports never overlap.
//
// It is a module of its own so that the Kubernetes and kustomize dependencies never slow the
// main module's builds; .ci/run runs it: cd deploy/kubernetes && go test ./...
package kubernetes

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/spa900/spa900/fleetfile"
)

// rendered is the kustomization's output, decoded.
type rendered struct {
	set     *appsv1.StatefulSet
	svc     *corev1.Service
	cm      *corev1.ConfigMap
	objects int
}

func render(t *testing.T) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatalf("kustomize: %v", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		r.objects++
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 StatefulSet":
			r.set = &appsv1.StatefulSet{}
			obj = r.set
		case "v1 Service":
			r.svc = &corev1.Service{}
			obj = r.svc
		case "v1 ConfigMap":
			r.cm = &corev1.ConfigMap{}
			obj = r.cm
		default:
			t.Fatalf("unexpected object %s %s", meta.APIVersion, meta.Kind)
		}
		// Strict: a field the API type does not have, or a value of the wrong type, fails.
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s: %v\n%s", meta.Kind, err, doc)
		}
	}
	if r.set == nil || r.svc == nil || r.cm == nil || r.objects != 3 {
		t.Fatalf("rendered %d objects: want a StatefulSet, a Service and a ConfigMap", r.objects)
	}
	return r
}

// TestManifests: the objects are valid API objects and fit together.
func TestManifests(t *testing.T) {
	r := render(t)
	set, svc, cm := r.set, r.svc, r.cm
	spec := set.Spec
	if spec.Selector == nil || len(spec.Selector.MatchLabels) == 0 {
		t.Fatal("StatefulSet without a selector")
	}
	for k, v := range spec.Selector.MatchLabels {
		if spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, spec.Template.Labels)
		}
		if svc.Spec.Selector[k] != v {
			t.Errorf("the Service does not select %s=%s", k, v)
		}
	}
	if spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q, Service %q clusterIP %q: want the headless Service", spec.ServiceName, svc.Name, svc.Spec.ClusterIP)
	}
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	for _, sp := range svc.Spec.Ports {
		cp, ok := ports[sp.TargetPort.String()]
		if !ok || cp.Protocol != sp.Protocol {
			t.Errorf("Service port %s targets %s, which the container does not have (%v)", sp.Name, sp.TargetPort.String(), sp.Protocol)
		}
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP probe", name)
			continue
		}
		if _, ok := ports[p.HTTPGet.Port.String()]; !ok || p.HTTPGet.Port.Type != intstr.String {
			t.Errorf("%s probe on port %s, which the container does not have", name, p.HTTPGet.Port.String())
		}
		if want := map[string]string{"startup": "/readyz", "readiness": "/readyz", "liveness": "/healthz"}[name]; p.HTTPGet.Path != want {
			t.Errorf("%s probe path %s, want %s", name, p.HTTPGet.Path, want)
		}
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"fleet", "--file=/etc/spa900/fleet.yaml", "--ordinal-from-hostname", "--listen=0.0.0.0:9100"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}
	if ports["fleet"].ContainerPort != 9100 {
		t.Errorf("the fleet port is %d, --listen says 9100", ports["fleet"].ContainerPort)
	}
	// The fleet file is mounted from the generated ConfigMap (kustomize appends a hash).
	var mounted bool
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			for _, m := range c.VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/etc/spa900")
			}
		}
	}
	if !mounted || cm.Data["fleet.yaml"] == "" {
		t.Errorf("the ConfigMap %s with fleet.yaml is not mounted at /etc/spa900", cm.Name)
	}
	req := c.Resources.Requests
	if req.Memory().IsZero() || req.Cpu().IsZero() || c.Resources.Limits.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("resources %v: want CPU and memory requests, a memory limit above them", c.Resources)
	}
	if sc := pod.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	// The memory request covers the measured cost of the pod's phones.
	phones := expand(t, r, 0)
	need := resource.MustParse(fmt.Sprintf("%dKi", processKiB+len(phones)*phoneKiB))
	if req.Memory().Cmp(need) < 0 {
		t.Errorf("memory request %s for %d phones: below the measured %s", req.Memory(), len(phones), need.String())
	}
}

// processKiB and phoneKiB are the measured RSS of a fleet process and of each idle phone with
// its SIP user agent, media engine and web server (README, Kubernetes: spa900 fleet --count 1,
// 500 and 2000, VmRSS: 248 to 265 KiB a phone from one reading to the next).
const (
	processKiB = 17 << 10
	phoneKiB   = 270
)

// TestReplicasDisjoint: 100 replicas of the fleet, each expanded with its ordinal as its pod
// would, never share a MAC or an extension (User_ID_1_), and within a pod no two phones share
// a web, SIP or RTP port.
func TestReplicasDisjoint(t *testing.T) {
	r := render(t)
	macs, users := map[string]int{}, map[string]int{}
	for ord := range 100 {
		phones := expand(t, r, ord)
		if len(phones) == 0 {
			t.Fatal("no phones")
		}
		ports := map[string]int{}
		for _, p := range phones {
			if prev, dup := macs[p.MAC]; dup || p.MAC == "" {
				t.Fatalf("replica %d: MAC %q also in replica %d", ord, p.MAC, prev)
			}
			macs[p.MAC] = ord
			set := map[string]string{}
			for _, kv := range p.Set {
				k, v, _ := strings.Cut(kv, "=")
				set[k] = v
			}
			user := set["User_ID_1_"]
			if prev, dup := users[user]; dup || user == "" {
				t.Fatalf("replica %d: extension %q also in replica %d", ord, user, prev)
			}
			users[user] = ord
			_, web, _ := net.SplitHostPort(p.HTTP)
			for _, port := range []string{"tcp/" + web, "udp/" + set["SIP_Port_1_"]} {
				if _, dup := ports[port]; dup {
					t.Fatalf("replica %d: port %s twice", ord, port)
				}
				ports[port] = 1
			}
			var lo, hi int
			fmt.Sscan(set["RTP_Port_Min"], &lo)
			fmt.Sscan(set["RTP_Port_Max"], &hi)
			for port := lo; port <= hi; port += 2 {
				key := fmt.Sprintf("udp/%d", port)
				if _, dup := ports[key]; dup {
					t.Fatalf("replica %d: RTP port %d of phone %d taken", ord, port, p.Row)
				}
				ports[key] = 1
			}
		}
	}
	t.Logf("100 replicas: %d phones, %d MACs, %d extensions, all distinct", len(macs), len(macs), len(users))
}

// expand expands the ConfigMap's fleet file as pod number ordinal runs it: the flags and the
// environment of the StatefulSet, the pod's address shared by its phones (SPA900_IP=auto).
func expand(t *testing.T, r *rendered, ordinal int) []fleetfile.Phone {
	t.Helper()
	spec, err := fleetfile.Parse("fleet.yaml", []byte(r.cm.Data["fleet.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	o := fleetfile.Options{Ordinal: ordinal, Model: "SPA942", IP: netip.MustParseAddr("10.244.0.7"), SharedIP: true, HTTPPort: 8080}
	for _, e := range r.set.Spec.Template.Spec.Containers[0].Env {
		switch e.Name {
		case "SPA900_MAC":
			if o.MAC, err = net.ParseMAC(e.Value); err != nil {
				t.Fatal(err)
			}
		case "SPA900_MODEL":
			o.Model = e.Value
		}
	}
	if o.MAC == nil {
		t.Fatal("the StatefulSet gives no SPA900_MAC: pods would generate random MACs")
	}
	phones, err := spec.Expand(o)
	if err != nil {
		t.Fatal(err)
	}
	return phones
}
