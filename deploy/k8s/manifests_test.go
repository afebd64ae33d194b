// Package k8s holds the Kubernetes manifests (base, overlays, observability)
// and the tests that render them the way `kubectl apply -k` would and check
// what the API server's schema cannot: that the objects fit together and
// meet the operational rules in README.md.
package k8s

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/kustomize/api/hasher"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/cobraspace/cobraspace/deploy/internal/envscan"
	"github.com/cobraspace/cobraspace/deploy/internal/repo"
)

// overlays are the deployable kustomizations.
var overlays = []string{"overlays/dev", "overlays/prod", "overlays/prod-gateway-api"}

// grpcServices are served over gRPC with the standard health service.
var grpcServices = []string{"user", "post", "chat"}

// imagePrefix names our own images; other images (stores) are not checked
// against the services' environment variables.
const imagePrefix = "ghcr.io/cobraspace/"

// rendered is one overlay's output decoded into typed objects.
type rendered struct {
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	ingresses    []*networkingv1.Ingress
	netpols      []*networkingv1.NetworkPolicy
	namespaces   []*corev1.Namespace
	accounts     map[string]*corev1.ServiceAccount
	priorities   map[string]*schedulingv1.PriorityClass
	gateways     []*gatewayv1.Gateway
	httpRoutes   []*gatewayv1.HTTPRoute
	// hashed: the ConfigMap's name ends in the hash of its content.
	hashed map[string]bool
}

// workload is what the checks need from a Deployment or StatefulSet.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	template   *corev1.PodTemplateSpec
}

func (r *rendered) workloads() []workload {
	var ws []workload
	for _, d := range r.deployments {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Selector, &d.Spec.Template})
	}
	for _, s := range r.statefulSets {
		ws = append(ws, workload{"StatefulSet", s.Name, s.Spec.Selector, &s.Spec.Template})
	}
	return ws
}

// render runs kustomize on dir and decodes every object strictly: a field
// that the k8s.io/api type does not have (a typo, a wrong indent) fails.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{
		configMaps: map[string]*corev1.ConfigMap{},
		secrets:    map[string]*corev1.Secret{},
		accounts:   map[string]*corev1.ServiceAccount{},
		priorities: map[string]*schedulingv1.PriorityClass{},
		hashed:     map[string]bool{},
	}
	namespaces := map[string][]string{}
	for _, res := range resMap.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", res.CurId(), err)
		}
		gvk := res.GetApiVersion() + "/" + res.GetKind()
		var obj any
		switch gvk {
		case "v1/Namespace":
			o := &corev1.Namespace{}
			r.namespaces, obj = append(r.namespaces, o), o
		case "v1/ConfigMap":
			o := &corev1.ConfigMap{}
			r.configMaps[res.GetName()], obj = o, o
			r.hashed[res.GetName()] = hasContentHash(t, res)
		case "v1/Secret":
			o := &corev1.Secret{}
			r.secrets[res.GetName()], obj = o, o
		case "v1/Service":
			o := &corev1.Service{}
			r.services, obj = append(r.services, o), o
		case "v1/ServiceAccount":
			o := &corev1.ServiceAccount{}
			r.accounts[res.GetName()], obj = o, o
		case "apps/v1/Deployment":
			o := &appsv1.Deployment{}
			r.deployments, obj = append(r.deployments, o), o
		case "apps/v1/StatefulSet":
			o := &appsv1.StatefulSet{}
			r.statefulSets, obj = append(r.statefulSets, o), o
		case "policy/v1/PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			r.pdbs, obj = append(r.pdbs, o), o
		case "autoscaling/v2/HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			r.hpas, obj = append(r.hpas, o), o
		case "networking.k8s.io/v1/Ingress":
			o := &networkingv1.Ingress{}
			r.ingresses, obj = append(r.ingresses, o), o
		case "networking.k8s.io/v1/NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			r.netpols, obj = append(r.netpols, o), o
		case "scheduling.k8s.io/v1/PriorityClass":
			o := &schedulingv1.PriorityClass{}
			r.priorities[res.GetName()], obj = o, o
		case "gateway.networking.k8s.io/v1/Gateway":
			o := &gatewayv1.Gateway{}
			r.gateways, obj = append(r.gateways, o), o
		case "gateway.networking.k8s.io/v1/HTTPRoute":
			o := &gatewayv1.HTTPRoute{}
			r.httpRoutes, obj = append(r.httpRoutes, o), o
		default:
			t.Fatalf("%s: kind %s has no typed check here; add it to render", res.CurId(), gvk)
		}
		if err := yaml.UnmarshalStrict(y, obj); err != nil {
			t.Errorf("%s %s does not decode strictly into %T: %v", gvk, res.GetName(), obj, err)
		}
		// Namespaces and PriorityClasses are cluster-scoped.
		if ns := res.GetNamespace(); gvk != "v1/Namespace" && gvk != "scheduling.k8s.io/v1/PriorityClass" {
			namespaces[ns] = append(namespaces[ns], gvk+" "+res.GetName())
		}
	}
	// Everything lives in the one namespace the overlay creates; an object
	// elsewhere would not find (or be found by) the others.
	if len(r.namespaces) != 1 {
		t.Fatalf("got %d Namespaces, want 1", len(r.namespaces))
	}
	for ns, objs := range namespaces {
		if ns != r.namespaces[0].Name {
			t.Errorf("objects in namespace %q, want %q: %v", ns, r.namespaces[0].Name, objs)
		}
	}
	return r
}

// hasContentHash reports whether res's name is "<name>-<hash>" with the
// hash kustomize computes over that name and the data, i.e. whether any
// change of a value renames it.
func hasContentHash(t *testing.T, res *resource.Resource) bool {
	t.Helper()
	i := strings.LastIndex(res.GetName(), "-")
	if i < 0 {
		return false
	}
	cp := res.Copy()
	if err := cp.SetName(res.GetName()[:i]); err != nil {
		t.Fatal(err)
	}
	h, err := (&hasher.Hasher{}).Hash(cp)
	if err != nil {
		t.Fatal(err)
	}
	return res.GetName()[i+1:] == h
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOverlays renders every overlay and checks the invariants that keep a
// deployment working: references resolve, pods are probed, bounded and
// locked down, and every configured variable is one the code reads.
func TestOverlays(t *testing.T) {
	t.Parallel()
	rootDir := root(t)
	vars := map[string]envscan.Vars{}
	for _, svc := range envscan.Services {
		v, err := envscan.Scan(rootDir, svc)
		if err != nil {
			t.Fatal(err)
		}
		vars[svc] = v
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, overlay := range overlays {
		t.Run(overlay, func(t *testing.T) {
			t.Parallel()
			r := render(t, overlay)
			checkWorkloads(t, r)
			checkContainers(t, r, vars)
			checkReferences(t, r, string(readme))
			checkServices(t, r)
			checkAutoscaling(t, r)
			checkGateway(t, r)
			checkGRPCGrace(t, r)
			checkEdge(t, r)
			checkNetworkPolicies(t, r)
			checkConnectivity(t, r)
		})
	}
}

// checkWorkloads: selectors select their own pods, and every app service
// exists as a Deployment with a ServiceAccount.
func checkWorkloads(t *testing.T, r *rendered) {
	t.Helper()
	for _, w := range r.workloads() {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || sel.Empty() {
			t.Errorf("%s %s: selector %v invalid or empty (%v)", w.kind, w.name, w.selector, err)
			continue
		}
		if !sel.Matches(labels.Set(w.template.Labels)) {
			t.Errorf("%s %s: selector %v does not match pod labels %v", w.kind, w.name, w.selector, w.template.Labels)
		}
		if sa := w.template.Spec.ServiceAccountName; sa != "" && r.accounts[sa] == nil {
			t.Errorf("%s %s: ServiceAccount %q not defined", w.kind, w.name, sa)
		}
		if m := w.template.Spec.AutomountServiceAccountToken; m == nil || *m {
			t.Errorf("%s %s: automountServiceAccountToken must be false (no pod needs the API)", w.kind, w.name)
		}
		// The namespace enforces the "restricted" Pod Security Standard,
		// which admits only these volume types and no host namespaces.
		for _, v := range w.template.Spec.Volumes {
			vs := v.VolumeSource
			if vs.ConfigMap == nil && vs.Secret == nil && vs.EmptyDir == nil && vs.PersistentVolumeClaim == nil &&
				vs.Projected == nil && vs.DownwardAPI == nil && vs.Ephemeral == nil && vs.CSI == nil {
				t.Errorf("%s %s: volume %s has a type the restricted Pod Security Standard rejects", w.kind, w.name, v.Name)
			}
		}
		if spec := w.template.Spec; spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s %s: host namespaces are not allowed", w.kind, w.name)
		}
	}
	for _, svc := range envscan.Services {
		d := findDeployment(r, svc)
		if d == nil {
			t.Errorf("no Deployment %q", svc)
			continue
		}
		checkPlacement(t, d)
		pc := r.priorities[d.Spec.Template.Spec.PriorityClassName]
		switch {
		case pc == nil:
			t.Errorf("Deployment %s: priorityClassName %q is not a rendered PriorityClass", svc, d.Spec.Template.Spec.PriorityClassName)
		case pc.Namespace != "":
			t.Errorf("PriorityClass %s is cluster-scoped but rendered in namespace %q", pc.Name, pc.Namespace)
		case pc.GlobalDefault:
			t.Errorf("PriorityClass %s must not be the cluster's global default", pc.Name)
		case pc.Value <= 0 || pc.Value > 1_000_000_000:
			t.Errorf("PriorityClass %s: value %d, want above ordinary pods (0) and below the system classes (> 1e9)", pc.Name, pc.Value)
		}
	}
}

// checkPlacement: a service's pods spread over zones and over nodes, each
// constraint counting this Deployment's own pods (a selector that matched
// nothing would spread nothing, silently).
func checkPlacement(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	spread := map[string]bool{}
	for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: spread over %s selects %v, not its own pods (%v)", d.Name, c.TopologyKey, c.LabelSelector, err)
			continue
		}
		if c.MaxSkew != 1 {
			t.Errorf("Deployment %s: spread over %s has maxSkew %d, want 1", d.Name, c.TopologyKey, c.MaxSkew)
		}
		spread[c.TopologyKey] = true
	}
	for _, key := range []string{corev1.LabelTopologyZone, corev1.LabelHostname} {
		if !spread[key] {
			t.Errorf("Deployment %s: no topologySpreadConstraint over %s", d.Name, key)
		}
	}
}

func findDeployment(r *rendered, name string) *appsv1.Deployment {
	for _, d := range r.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// checkContainers: probes, resources, restricted security context, pinned
// images and known environment variables, container by container.
func checkContainers(t *testing.T, r *rendered, vars map[string]envscan.Vars) {
	t.Helper()
	for _, w := range r.workloads() {
		pod := w.template.Spec
		for _, c := range pod.Containers {
			where := fmt.Sprintf("%s %s container %s", w.kind, w.name, c.Name)
			if c.StartupProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("%s: needs startup, readiness and liveness probes", where)
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("%s: no %s request", where, res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("%s: no %s limit", where, res)
				}
			}
			checkSecurity(t, where, pod.SecurityContext, c.SecurityContext)
			if err := pinnedImage(c.Image); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if svc, ok := strings.CutPrefix(c.Image, imagePrefix); ok {
				svc, _, _ = strings.Cut(svc, ":")
				checkEnv(t, where, r, c, svc, vars[svc])
				checkServiceProbes(t, where, svc, c)
				if pod.Containers[0].Name != svc || w.name != svc {
					t.Errorf("%s: image %s should run as container and workload %q", where, c.Image, svc)
				}
				if w.template.Annotations["prometheus.io/scrape"] != "true" ||
					!hasPort(c, w.template.Annotations["prometheus.io/port"], "admin") {
					t.Errorf("%s: prometheus.io/scrape and prometheus.io/port must name the admin port, got %v", where, w.template.Annotations)
				}
			}
		}
	}
}

func checkSecurity(t *testing.T, where string, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	t.Helper()
	if c == nil {
		t.Errorf("%s: no securityContext", where)
		return
	}
	nonRoot := c.RunAsNonRoot != nil && *c.RunAsNonRoot || pod != nil && pod.RunAsNonRoot != nil && *pod.RunAsNonRoot
	if !nonRoot {
		t.Errorf("%s: runAsNonRoot not true", where)
	}
	if c.RunAsUser != nil && *c.RunAsUser == 0 || pod != nil && pod.RunAsUser != nil && *pod.RunAsUser == 0 {
		t.Errorf("%s: runs as uid 0", where)
	}
	if c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
		t.Errorf("%s: readOnlyRootFilesystem not true", where)
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation not false", where)
	}
	if c.Capabilities == nil || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities must drop ALL and add none, got %+v", where, c.Capabilities)
	}
	seccomp := c.SeccompProfile
	if seccomp == nil && pod != nil {
		seccomp = pod.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault, got %+v", where, seccomp)
	}
}

// pinnedImage rejects untagged and :latest images; a digest also pins.
func pinnedImage(image string) error {
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	lastSlash := strings.LastIndex(image, "/")
	_, tag, ok := strings.Cut(image[lastSlash+1:], ":")
	switch {
	case !ok || tag == "":
		return fmt.Errorf("image %q has no tag", image)
	case tag == "latest":
		return fmt.Errorf("image %q uses :latest", image)
	}
	return nil
}

func hasPort(c corev1.Container, port, name string) bool {
	for _, p := range c.Ports {
		if fmt.Sprint(p.ContainerPort) == port && p.Name == name {
			return true
		}
	}
	return false
}

// checkEnv: every variable set on a service container (directly or through
// envFrom) is read by that service's code, and every Required one is set.
func checkEnv(t *testing.T, where string, r *rendered, c corev1.Container, svc string, v envscan.Vars) {
	t.Helper()
	set := map[string]bool{}
	for _, e := range c.Env {
		set[e.Name] = true
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			if cm := r.configMaps[ef.ConfigMapRef.Name]; cm != nil {
				for k := range cm.Data {
					set[k] = true
				}
			}
		case ef.SecretRef != nil:
			if s := r.secrets[ef.SecretRef.Name]; s != nil {
				for k := range s.Data {
					set[k] = true
				}
			}
		}
	}
	if !v.HasSource {
		t.Logf("%s: services/%s has no Go code yet; its variables are not checked", where, svc)
		return
	}
	for name := range set {
		if !v.Read[name] {
			t.Errorf("%s: sets %s, which services/%s does not read (it reads %v)", where, name, svc, v.Names())
		}
	}
	for name := range v.Required {
		if !set[name] {
			t.Errorf("%s: services/%s requires %s, not set", where, svc, name)
		}
	}
}

// checkServiceProbes: gRPC services use kubelet's native gRPC probe (the
// standard health service) for readiness and start-up; every service's
// liveness asks only the admin /healthz, never the dependencies.
func checkServiceProbes(t *testing.T, where, svc string, c corev1.Container) {
	t.Helper()
	if c.StartupProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe == nil {
		return
	}
	if slices.Contains(grpcServices, svc) {
		if c.ReadinessProbe.GRPC == nil || c.StartupProbe.GRPC == nil {
			t.Errorf("%s: readiness and startup must be native gRPC probes", where)
		} else if !hasPort(c, fmt.Sprint(c.ReadinessProbe.GRPC.Port), "grpc") {
			t.Errorf("%s: gRPC probe port %d is not the grpc port", where, c.ReadinessProbe.GRPC.Port)
		}
	} else if g := c.ReadinessProbe.HTTPGet; g == nil || g.Path != "/readyz" {
		t.Errorf("%s: readiness must be GET /readyz on the admin port", where)
	}
	if g := c.LivenessProbe.HTTPGet; g == nil || g.Path != "/healthz" || g.Port.String() != "admin" {
		t.Errorf("%s: liveness must be GET /healthz on the admin port", where)
	}
}

// externalSecret matches a documented `kubectl create secret generic NAME`.
var externalSecret = regexp.MustCompile(`kubectl(?: -n \S+)? create secret (?:generic|tls) ([a-z0-9-]+)`)

// checkReferences: every ConfigMap a pod reads is rendered; every Secret is
// rendered (dev) or documented in README.md with its creation command.
func checkReferences(t *testing.T, r *rendered, readme string) {
	t.Helper()
	documented := map[string]bool{}
	for _, m := range externalSecret.FindAllStringSubmatch(readme, -1) {
		documented[m[1]] = true
	}
	secret := func(where, name, key string) {
		s, ok := r.secrets[name]
		switch {
		case ok && key != "":
			if _, has := s.Data[key]; !has {
				t.Errorf("%s: Secret %s has no key %s", where, name, key)
			}
		case !ok && !documented[name]:
			t.Errorf("%s: Secret %s is neither rendered nor created by a documented `kubectl create secret` in README.md", where, name)
		}
	}
	configMap := func(where, name, key string) {
		cm, ok := r.configMaps[name]
		if !ok {
			t.Errorf("%s: ConfigMap %s not rendered", where, name)
			return
		}
		if _, has := cm.Data[key]; key != "" && !has {
			t.Errorf("%s: ConfigMap %s has no key %s", where, name, key)
		}
	}
	for _, w := range r.workloads() {
		for _, c := range w.template.Spec.Containers {
			where := w.kind + " " + w.name
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if ref := e.ValueFrom.SecretKeyRef; ref != nil {
					key := ref.Key
					if ref.Optional != nil && *ref.Optional {
						key = "" // e.g. DATABASE_READ_URL: only where a replica exists
					}
					secret(where, ref.Name, key)
				}
				if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
					configMap(where, ref.Name, ref.Key)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					configMap(where, ef.ConfigMapRef.Name, "")
				}
				if ef.SecretRef != nil {
					secret(where, ef.SecretRef.Name, "")
				}
			}
		}
		for _, v := range w.template.Spec.Volumes {
			if v.Secret != nil {
				secret(w.kind+" "+w.name, v.Secret.SecretName, "")
			}
			if v.ConfigMap != nil {
				configMap(w.kind+" "+w.name, v.ConfigMap.Name, "")
			}
		}
	}
	for _, ing := range r.ingresses {
		for _, tls := range ing.Spec.TLS {
			secret("Ingress "+ing.Name, tls.SecretName, "")
		}
	}
	for _, gw := range r.gateways {
		for _, l := range gw.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				if ref.Kind != nil && *ref.Kind != "Secret" || ref.Namespace != nil {
					t.Errorf("Gateway %s listener %s: certificateRef %+v, want a Secret in the same namespace", gw.Name, l.Name, ref)
					continue
				}
				secret("Gateway "+gw.Name, string(ref.Name), "")
			}
		}
	}
	// A service pod reads its ConfigMaps only at start, so each one must be
	// generated with a content hash in its name: a changed value then
	// changes the pod template and rolls the pods (TestConfigChangeRollsPods).
	for _, w := range r.workloads() {
		for _, c := range w.template.Spec.Containers {
			if !strings.HasPrefix(c.Image, imagePrefix) {
				continue
			}
			for _, ef := range c.EnvFrom {
				if ref := ef.ConfigMapRef; ref != nil && !r.hashed[ref.Name] {
					t.Errorf("%s %s: ConfigMap %s has no content hash in its name; generate it (configMapGenerator) so a change rolls the pods", w.kind, w.name, ref.Name)
				}
			}
		}
	}
}

// selecting returns the workloads whose pods sel selects.
func selecting(r *rendered, sel labels.Selector) []workload {
	var out []workload
	for _, w := range r.workloads() {
		if sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

// checkServices: each Service and PDB selects a workload whose container
// ports exist; the gRPC Services are headless for client-side balancing.
func checkServices(t *testing.T, r *rendered) {
	t.Helper()
	for _, s := range r.services {
		targets := selecting(r, labels.SelectorFromSet(s.Spec.Selector))
		if len(s.Spec.Selector) == 0 || len(targets) == 0 {
			t.Errorf("Service %s: selector %v selects no workload", s.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			found := false
			for _, c := range targets[0].template.Spec.Containers {
				for _, cp := range c.Ports {
					if p.TargetPort.String() == cp.Name || p.TargetPort.IntValue() == int(cp.ContainerPort) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("Service %s port %s: targetPort %s is no container port of %s", s.Name, p.Name, p.TargetPort.String(), targets[0].name)
			}
		}
		if slices.Contains(grpcServices, s.Name) && s.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s must be headless (clusterIP: None) so gRPC clients balance over pods", s.Name)
		}
	}
	for _, st := range r.statefulSets {
		if !slices.ContainsFunc(r.services, func(s *corev1.Service) bool { return s.Name == st.Spec.ServiceName }) {
			t.Errorf("StatefulSet %s: serviceName %q is not a Service", st.Name, st.Spec.ServiceName)
		}
	}
	for _, p := range r.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() || len(selecting(r, sel)) == 0 {
			t.Errorf("PodDisruptionBudget %s selects no workload (%v)", p.Name, err)
		}
	}
	for _, svc := range envscan.Services {
		if !slices.ContainsFunc(r.pdbs, func(p *policyv1.PodDisruptionBudget) bool { return p.Name == svc }) {
			t.Errorf("no PodDisruptionBudget for %s", svc)
		}
	}
}

// checkAutoscaling: gateway and chat scale horizontally, down slowly.
func checkAutoscaling(t *testing.T, r *rendered) {
	t.Helper()
	scaled := map[string]bool{}
	for _, h := range r.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || findDeployment(r, ref.Name) == nil {
			t.Errorf("HPA %s targets %s %s %s, which is not a rendered Deployment", h.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		scaled[ref.Name] = true
		if d := findDeployment(r, ref.Name); d.Spec.Replicas != nil {
			t.Errorf("Deployment %s sets replicas although HPA %s owns them (every apply would reset the count)", d.Name, h.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas <= *h.Spec.MinReplicas {
			t.Errorf("HPA %s: want 1 <= minReplicas < maxReplicas, got %v..%d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		b := h.Spec.Behavior
		if b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil ||
			*b.ScaleDown.StabilizationWindowSeconds < 300 {
			t.Errorf("HPA %s: scale-down stabilization must be >= 300 s (each removed pod reconnects its clients)", h.Name)
		}
		for _, m := range h.Spec.Metrics {
			if m.Resource == nil {
				continue
			}
			for _, c := range findDeployment(r, ref.Name).Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[m.Resource.Name]; !ok {
					t.Errorf("HPA %s scales on %s utilization but container %s has no %s request", h.Name, m.Resource.Name, c.Name, m.Resource.Name)
				}
			}
		}
	}
	for _, want := range []string{"gateway", "chat"} {
		if !scaled[want] {
			t.Errorf("no HorizontalPodAutoscaler for %s", want)
		}
	}
}

// checkGateway: a terminating gateway pod gets enough time to drain: the
// preStop sleep, DRAIN_DELAY and SHUTDOWN_GRACE fit in the grace period.
func checkGateway(t *testing.T, r *rendered) {
	t.Helper()
	d := findDeployment(r, "gateway")
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return
	}
	c := d.Spec.Template.Spec.Containers[0]
	var need time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("gateway: needs a preStop sleep so endpoint removal reaches the ingress before sockets close")
	} else {
		need += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	for _, name := range []string{"DRAIN_DELAY", "SHUTDOWN_GRACE"} {
		val, ok := envValue(r, c, name)
		if !ok {
			continue
		}
		dur, err := time.ParseDuration(val)
		if err != nil {
			t.Errorf("gateway: %s=%q: %v", name, val, err)
		}
		need += dur
	}
	grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= need || *grace < 30 {
		t.Errorf("gateway: terminationGracePeriodSeconds %v must be >= 30 and exceed preStop + DRAIN_DELAY + SHUTDOWN_GRACE = %v", grace, need)
	}
}

// checkGRPCGrace: a gRPC pod gets DRAIN_DELAY plus the server's 10 s
// graceful stop (platform/grpcserver) before the kubelet kills it.
func checkGRPCGrace(t *testing.T, r *rendered) {
	t.Helper()
	for _, svc := range grpcServices {
		d := findDeployment(r, svc)
		if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
			continue
		}
		need := 10 * time.Second
		if val, ok := envValue(r, d.Spec.Template.Spec.Containers[0], "DRAIN_DELAY"); ok {
			dur, err := time.ParseDuration(val)
			if err != nil {
				t.Errorf("%s: DRAIN_DELAY=%q: %v", svc, val, err)
			}
			need += dur
		}
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		if grace == nil || time.Duration(*grace)*time.Second <= need {
			t.Errorf("%s: terminationGracePeriodSeconds %v must exceed DRAIN_DELAY + 10 s graceful stop = %v", svc, grace, need)
		}
	}
}

// envValue resolves a literal or ConfigMap-sourced variable of c.
func envValue(r *rendered, c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil || r.configMaps[ef.ConfigMapRef.Name] == nil {
			continue
		}
		if v, ok := r.configMaps[ef.ConfigMapRef.Name].Data[name]; ok {
			return v, true
		}
	}
	return "", false
}

// checkEdge: the gateway is reachable from outside through exactly one
// edge, an Ingress (ingress-nginx) or Gateway API HTTPRoutes, with no
// session affinity and timeouts that let quiet WebSockets live.
func checkEdge(t *testing.T, r *rendered) {
	t.Helper()
	checkEdgePolicy(t, r)
	switch {
	case len(r.ingresses) == 1 && len(r.httpRoutes) == 0:
		checkIngress(t, r.ingresses[0])
	case len(r.ingresses) == 0 && len(r.httpRoutes) > 0:
		checkHTTPRoutes(t, r)
	default:
		t.Fatalf("got %d Ingresses and %d HTTPRoutes, want one Ingress or HTTPRoutes only", len(r.ingresses), len(r.httpRoutes))
	}
}

func checkIngress(t *testing.T, ing *networkingv1.Ingress) {
	t.Helper()
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != "gateway" {
				t.Errorf("Ingress %s: backend %+v, want Service gateway", ing.Name, p.Backend)
			}
		}
	}
	for _, a := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
		var secs int
		if _, err := fmt.Sscan(ing.Annotations[a], &secs); err != nil || secs < 600 {
			t.Errorf("Ingress %s: %s=%q, want >= 600 s for idle WebSockets", ing.Name, a, ing.Annotations[a])
		}
	}
	if _, sticky := ing.Annotations["nginx.ingress.kubernetes.io/affinity"]; sticky {
		t.Errorf("Ingress %s: no sticky sessions: any gateway serves any client", ing.Name)
	}
}

// socketPath is a chat WebSocket's path (services/gateway routes.go).
const socketPath = "/ws/chat/1/chat/"

// checkHTTPRoutes: every route attaches to a listener of a rendered Gateway
// whose hostname it serves, and sends traffic only to the gateway Service on
// a port it has; HTTPS reaches the gateway, and the rule that carries the
// chat socket path has no request timeout.
func checkHTTPRoutes(t *testing.T, r *rendered) {
	t.Helper()
	socketRouted := false
	for _, hr := range r.httpRoutes {
		for _, ref := range hr.Spec.ParentRefs {
			l := findListener(r, string(ref.Name), ref.SectionName)
			if l == nil {
				section := ""
				if ref.SectionName != nil {
					section = string(*ref.SectionName)
				}
				t.Errorf("HTTPRoute %s: parent %s/%s is no listener of a rendered Gateway", hr.Name, ref.Name, section)
				continue
			}
			if l.Hostname != nil && !slices.Contains(hr.Spec.Hostnames, *l.Hostname) {
				t.Errorf("HTTPRoute %s: hostnames %v do not include listener %s's %s", hr.Name, hr.Spec.Hostnames, l.Name, *l.Hostname)
			}
			if l.Protocol != gatewayv1.HTTPSProtocolType {
				continue
			}
			// Gateway API picks the rule with the longest matching prefix.
			var best *gatewayv1.HTTPRouteRule
			bestLen := -1
			for i, rule := range hr.Spec.Rules {
				for _, m := range rule.Matches {
					if m.Path == nil || m.Path.Value == nil || m.Path.Type == nil || *m.Path.Type != gatewayv1.PathMatchPathPrefix {
						continue
					}
					if p := *m.Path.Value; strings.HasPrefix(socketPath, p) && len(p) > bestLen {
						best, bestLen = &hr.Spec.Rules[i], len(p)
					}
				}
			}
			if best == nil {
				continue
			}
			socketRouted = true
			if best.Timeouts == nil || best.Timeouts.Request == nil || *best.Timeouts.Request != "0s" {
				t.Errorf("HTTPRoute %s: the rule for %s needs timeouts.request 0s (no limit) so chat sockets are not cut", hr.Name, socketPath)
			}
		}
		for _, rule := range hr.Spec.Rules {
			if rule.SessionPersistence != nil {
				t.Errorf("HTTPRoute %s: no session persistence: any gateway serves any client", hr.Name)
			}
			if rule.Timeouts != nil && rule.Timeouts.Request != nil {
				if _, err := time.ParseDuration(string(*rule.Timeouts.Request)); err != nil {
					t.Errorf("HTTPRoute %s: timeouts.request: %v", hr.Name, err)
				}
			}
			for _, b := range rule.BackendRefs {
				if b.Kind != nil && *b.Kind != "Service" || b.Name != "gateway" || b.Port == nil {
					t.Errorf("HTTPRoute %s: backend %+v, want Service gateway with a port", hr.Name, b.BackendObjectReference)
					continue
				}
				if _, _, ok := resolveService(r, string(b.Name), fmt.Sprint(*b.Port)); !ok {
					t.Errorf("HTTPRoute %s: Service %s has no port %d", hr.Name, b.Name, *b.Port)
				}
			}
		}
	}
	if !socketRouted {
		t.Errorf("no HTTPRoute carries %s over HTTPS", socketPath)
	}
}

func findListener(r *rendered, gateway string, section *gatewayv1.SectionName) *gatewayv1.Listener {
	for _, gw := range r.gateways {
		if gw.Name != gateway {
			continue
		}
		for i, l := range gw.Spec.Listeners {
			if section == nil || l.Name == *section {
				return &gw.Spec.Listeners[i]
			}
		}
	}
	return nil
}

// checkNetworkPolicies: default deny both ways, DNS allowed, and no rule
// that selects no pod (a typo in a label would silently allow nothing).
func checkNetworkPolicies(t *testing.T, r *rendered) {
	t.Helper()
	var denyAll, dns bool
	for _, np := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Errorf("NetworkPolicy %s: %v", np.Name, err)
			continue
		}
		if sel.Empty() && len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) &&
			slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			denyAll = true
		}
		for _, e := range np.Spec.Egress {
			for _, p := range e.Ports {
				if p.Port != nil && p.Port.IntValue() == 53 && sel.Empty() {
					dns = true
				}
			}
		}
		if !sel.Empty() && len(selecting(r, sel)) == 0 {
			t.Errorf("NetworkPolicy %s: podSelector %v selects no workload", np.Name, np.Spec.PodSelector)
		}
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				peerSelects(t, r, np.Name, peer)
			}
		}
		for _, rule := range np.Spec.Egress {
			for _, peer := range rule.To {
				peerSelects(t, r, np.Name, peer)
			}
		}
	}
	if !denyAll {
		t.Error("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}
	if !dns {
		t.Error("no NetworkPolicy allowing DNS (port 53) egress for every pod")
	}
	gatewayPods := labels.Set(findDeployment(r, "gateway").Spec.Template.Labels)
	for _, np := range r.netpols {
		sel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				// From outside the namespace: only Prometheus may reach
				// other pods than the gateway (their admin ports).
				if peer.IPBlock != nil || peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
					if !sel.Matches(gatewayPods) || sel.Empty() {
						t.Errorf("NetworkPolicy %s lets outside traffic reach pods other than the gateway", np.Name)
					}
				}
			}
		}
	}
}

// peerSelects: a same-namespace pod peer must select a rendered workload.
func peerSelects(t *testing.T, r *rendered, policy string, peer networkingv1.NetworkPolicyPeer) {
	t.Helper()
	if peer.PodSelector == nil || peer.NamespaceSelector != nil {
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
	if err != nil || len(selecting(r, sel)) == 0 {
		t.Errorf("NetworkPolicy %s: peer %v selects no workload (%v)", policy, peer.PodSelector, err)
	}
}

// TestDevStores: the dev overlay runs PostgreSQL, Redis and a 3-node NATS
// cluster in the cluster, each persisted, and the NATS routes name the
// StatefulSet's stable pod DNS names.
func TestDevStores(t *testing.T) {
	t.Parallel()
	r := render(t, "overlays/dev")
	sets := map[string]*appsv1.StatefulSet{}
	for _, s := range r.statefulSets {
		sets[s.Name] = s
	}
	for _, name := range []string{"postgres", "redis", "nats"} {
		s := sets[name]
		if s == nil {
			t.Errorf("dev: no StatefulSet %s", name)
			continue
		}
		if len(s.Spec.VolumeClaimTemplates) == 0 {
			t.Errorf("dev: StatefulSet %s has no volumeClaimTemplates", name)
		}
	}
	nats := sets["nats"]
	if nats == nil {
		return
	}
	if nats.Spec.Replicas == nil || *nats.Spec.Replicas != 3 {
		t.Errorf("dev: NATS replicas %v, want 3", nats.Spec.Replicas)
	}
	var conf string
	for name, cm := range r.configMaps {
		if strings.HasPrefix(name, "nats-config") {
			conf = cm.Data["nats.conf"]
		}
	}
	for i := range 3 {
		route := fmt.Sprintf("nats://nats-%d.%s:6222", i, nats.Spec.ServiceName)
		if !strings.Contains(conf, route) {
			t.Errorf("dev: nats.conf has no route %s", route)
		}
	}
	if !strings.Contains(conf, "jetstream") || !strings.Contains(conf, "server_name: $POD_NAME") {
		t.Error("dev: nats.conf must enable JetStream with a per-pod server_name")
	}
	for _, svc := range r.services {
		if svc.Name == nats.Spec.ServiceName && (svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses) {
			t.Errorf("dev: Service %s must be headless and publish not-ready pods so routes form", svc.Name)
		}
	}

	// The databases the secrets point at are the ones the init script creates.
	var initSQL string
	for name, cm := range r.configMaps {
		if strings.HasPrefix(name, "postgres-init") {
			for _, v := range cm.Data {
				initSQL += v
			}
		}
	}
	for _, svc := range grpcServices {
		if !strings.Contains(initSQL, "CREATE DATABASE cobra_"+svc+";") {
			t.Errorf("dev: postgres init creates no database cobra_%s", svc)
		}
	}
}

// TestProdUsesExternalStores: prod runs no stores, and more of every
// service than dev.
func TestProdUsesExternalStores(t *testing.T) {
	t.Parallel()
	dev, prod := render(t, "overlays/dev"), render(t, "overlays/prod")
	if len(prod.statefulSets) != 0 {
		t.Errorf("prod: got %d StatefulSets, want none (stores are external)", len(prod.statefulSets))
	}
	if len(prod.secrets) != 0 {
		t.Errorf("prod: got %d rendered Secrets, want none (the operator creates them)", len(prod.secrets))
	}
	replicas := func(r *rendered, name string) int32 {
		for _, h := range r.hpas {
			if h.Spec.ScaleTargetRef.Name == name && h.Spec.MinReplicas != nil {
				return *h.Spec.MinReplicas
			}
		}
		if d := findDeployment(r, name); d != nil && d.Spec.Replicas != nil {
			return *d.Spec.Replicas
		}
		return 1
	}
	for _, svc := range envscan.Services {
		if got, devs := replicas(prod, svc), replicas(dev, svc); got <= devs || got < 3 {
			t.Errorf("prod: %s runs %d replicas, want >= 3 and more than dev's %d", svc, got, devs)
		}
	}
	if len(prod.ingresses) == 1 && len(prod.ingresses[0].Spec.TLS) == 0 {
		t.Error("prod: Ingress has no TLS")
	}
}

// TestDashboard: the Grafana dashboard is valid JSON and charts the key
// figures with metric names that the code registers.
func TestDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("observability", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	var exprs strings.Builder
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs.WriteString(tg.Expr + "\n")
		}
	}
	for _, metric := range []string{
		"cobra_gateway_chat_sockets_open",
		"cobra_gateway_chat_frames_sent_total",
		"grpc_server_handled_total",
	} {
		if !strings.Contains(exprs.String(), metric) {
			t.Errorf("dashboard charts no %s", metric)
		}
	}
	// Every cobra_/chat_ metric the dashboard names must exist in the code,
	// so a renamed metric fails here rather than as an empty panel; the few
	// not written yet are listed in assumedMetrics and in README.md.
	rootDir := root(t)
	src := sourceText(t, filepath.Join(rootDir, "services")) + sourceText(t, filepath.Join(rootDir, "platform"))
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\b(cobra_[a-z_]+|chat_[a-z_]+)`).FindAllString(exprs.String(), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
		switch {
		case strings.Contains(src, `"`+base+`"`):
		case slices.Contains(assumedMetrics, base):
			if !strings.Contains(string(readme), base) {
				t.Errorf("assumed dashboard metric %s is not documented in README.md", base)
			}
		default:
			t.Errorf("dashboard metric %s is not registered anywhere under services/ or platform/", m)
		}
	}
}

// assumedMetrics are charted by the dashboard before any service registers
// them (README.md, Observability, says what each should measure). Remove a
// name once the code registers it.
var assumedMetrics = []string{}

func sourceText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			src, rerr := os.ReadFile(path)
			b.Write(src)
			return rerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkConnectivity: every address a service is configured to call (the
// *_SERVICE_ADDR variables and the store URLs) resolves to a rendered
// Service whose pods the NetworkPolicies let it reach, in both directions.
// Addresses outside the cluster (prod's managed stores) are skipped.
func checkConnectivity(t *testing.T, r *rendered) {
	t.Helper()
	for _, d := range r.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if !strings.HasPrefix(c.Image, imagePrefix) {
				continue
			}
			for name, val := range envValues(r, c) {
				var hostports []string
				switch {
				case strings.HasSuffix(name, "_SERVICE_ADDR"):
					hostports = []string{val}
				case strings.HasSuffix(name, "_URL"):
					for _, one := range strings.Split(val, ",") {
						if u, err := url.Parse(one); err == nil && u.Port() != "" {
							hostports = append(hostports, u.Host[strings.LastIndex(u.Host, "@")+1:])
						}
					}
				}
				for _, hp := range hostports {
					host, port, _ := strings.Cut(hp, ":")
					to, podPort, ok := resolveService(r, host, port)
					if !ok {
						if !strings.Contains(host, ".") {
							t.Errorf("Deployment %s: %s=%s names no Service in the overlay", d.Name, name, val)
						}
						continue
					}
					from := labels.Set(d.Spec.Template.Labels)
					if !allowed(r, networkingv1.PolicyTypeEgress, from, to, podPort) {
						t.Errorf("Deployment %s: no NetworkPolicy lets it reach %s (%s) on port %d", d.Name, host, name, podPort)
					}
					if !allowed(r, networkingv1.PolicyTypeIngress, to, from, podPort) {
						t.Errorf("Deployment %s: no NetworkPolicy lets %s accept it on port %d (%s)", d.Name, host, podPort, name)
					}
				}
			}
		}
	}
}

// envValues resolves c's variables from literals, ConfigMaps and Secrets.
func envValues(r *rendered, c corev1.Container) map[string]string {
	vals := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && r.configMaps[ef.ConfigMapRef.Name] != nil {
			for k, v := range r.configMaps[ef.ConfigMapRef.Name].Data {
				vals[k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			vals[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			if s := r.secrets[e.ValueFrom.SecretKeyRef.Name]; s != nil {
				vals[e.Name] = string(s.Data[e.ValueFrom.SecretKeyRef.Key])
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if cm := r.configMaps[e.ValueFrom.ConfigMapKeyRef.Name]; cm != nil {
				vals[e.Name] = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			}
		}
	}
	return vals
}

// resolveService maps "name", "port" to the pod labels behind Service name
// and the container port that Service port forwards to.
func resolveService(r *rendered, name, port string) (labels.Set, int32, bool) {
	for _, s := range r.services {
		if s.Name != name {
			continue
		}
		targets := selecting(r, labels.SelectorFromSet(s.Spec.Selector))
		if len(targets) == 0 {
			return nil, 0, false
		}
		for _, p := range s.Spec.Ports {
			if fmt.Sprint(p.Port) != port {
				continue
			}
			for _, c := range targets[0].template.Spec.Containers {
				for _, cp := range c.Ports {
					if p.TargetPort.String() == cp.Name || p.TargetPort.IntValue() == int(cp.ContainerPort) {
						return labels.Set(targets[0].template.Labels), cp.ContainerPort, true
					}
				}
			}
		}
	}
	return nil, 0, false
}

// allowed reports whether some policy of the given type selecting subject
// has a rule admitting peer pods (same namespace) on port.
func allowed(r *rendered, typ networkingv1.PolicyType, subject, peer labels.Set, port int32) bool {
	for _, np := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(subject) || !slices.Contains(np.Spec.PolicyTypes, typ) {
			continue
		}
		type rule struct {
			ports []networkingv1.NetworkPolicyPort
			peers []networkingv1.NetworkPolicyPeer
		}
		var rules []rule
		for _, in := range np.Spec.Ingress {
			if typ == networkingv1.PolicyTypeIngress {
				rules = append(rules, rule{in.Ports, in.From})
			}
		}
		for _, eg := range np.Spec.Egress {
			if typ == networkingv1.PolicyTypeEgress {
				rules = append(rules, rule{eg.Ports, eg.To})
			}
		}
		for _, ru := range rules {
			portOK := len(ru.ports) == 0 || slices.ContainsFunc(ru.ports, func(p networkingv1.NetworkPolicyPort) bool {
				return p.Port == nil || p.Port.IntValue() == int(port)
			})
			peerOK := len(ru.peers) == 0 || slices.ContainsFunc(ru.peers, func(p networkingv1.NetworkPolicyPeer) bool {
				if p.PodSelector == nil || p.NamespaceSelector != nil {
					return false
				}
				ps, err := metav1.LabelSelectorAsSelector(p.PodSelector)
				return err == nil && ps.Matches(peer)
			})
			if portOK && peerOK {
				return true
			}
		}
	}
	return false
}
