package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/cobraspace/cobraspace/deploy/internal/envscan"
)

// externalMetrics are the metric names the alert rules use that no code in
// this repository registers, with where they come from (README.md lists
// them too). Everything else must be registered under services/ or
// platform/.
var externalMetrics = map[string]string{
	"up":                         "Prometheus itself, one series per scrape target",
	"gnatsd_varz_slow_consumers": "prometheus-nats-exporter (-varz) beside each NATS server",
}

// build runs kustomize on dir and returns its resources, for directories
// that render does not cover (the monitoring objects, other namespaces).
func build(t *testing.T, fsys filesys.FileSystem, dir string) []*resource.Resource {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return resMap.Resources()
}

// decodeStrict decodes res into obj, failing on any field obj's type lacks.
func decodeStrict(t *testing.T, res *resource.Resource, obj any) {
	t.Helper()
	y, err := res.AsYAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(y, obj); err != nil {
		t.Errorf("%s %s does not decode strictly into %T: %v", res.GetKind(), res.GetName(), obj, err)
	}
}

// codeSources holds the non-test Go source of platform/ and of each service,
// to look metric names up in.
type codeSources struct {
	platform string
	services map[string]string
}

func loadSources(t *testing.T) codeSources {
	t.Helper()
	rootDir := root(t)
	src := codeSources{platform: sourceText(t, filepath.Join(rootDir, "platform")), services: map[string]string{}}
	for _, svc := range envscan.Services {
		src.services[svc] = sourceText(t, filepath.Join(rootDir, "services", svc))
	}
	return src
}

// registers reports whether svc's code (or platform's, which every service
// links) registers metric name. Histogram series carry suffixes.
func (s codeSources) registers(svc, name string) bool {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		name = strings.TrimSuffix(name, suffix)
	}
	quoted := `"` + name + `"`
	return strings.Contains(s.platform, quoted) || strings.Contains(s.services[svc], quoted)
}

// selectors returns every vector selector in expr.
func selectors(expr parser.Expr) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// TestMonitoring: every service has a PodMonitor that selects its pods on
// their admin port, and every alert rule parses as PromQL, names only
// metrics the scraped services register (by the job it selects) or a
// documented external metric, and has a runbook line in README.md.
func TestMonitoring(t *testing.T) {
	t.Parallel()
	prod := render(t, "overlays/prod")
	src := loadSources(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	runbook := section(string(readme), "## Alert runbook")
	if runbook == "" {
		t.Fatal(`README.md has no "## Alert runbook" section`)
	}

	jobs := map[string]bool{} // job label values the PodMonitors produce
	var rules []*monitoringv1.PrometheusRule
	for _, res := range build(t, filesys.MakeFsOnDisk(), "monitoring") {
		if res.GetNamespace() != "cobraspace" {
			t.Errorf("%s %s in namespace %q, want cobraspace (beside the pods)", res.GetKind(), res.GetName(), res.GetNamespace())
		}
		switch res.GetApiVersion() + "/" + res.GetKind() {
		case "monitoring.coreos.com/v1/PodMonitor":
			pm := &monitoringv1.PodMonitor{}
			decodeStrict(t, res, pm)
			for _, job := range checkPodMonitor(t, prod, pm) {
				jobs[job] = true
			}
		case "monitoring.coreos.com/v1/PrometheusRule":
			pr := &monitoringv1.PrometheusRule{}
			decodeStrict(t, res, pr)
			rules = append(rules, pr)
		default:
			t.Errorf("monitoring: unexpected %s %s", res.GetKind(), res.GetName())
		}
	}
	for _, svc := range envscan.Services {
		if !jobs[svc] {
			t.Errorf("no PodMonitor scrapes %s (as job %q)", svc, svc)
		}
	}
	if len(rules) == 0 {
		t.Fatal("no PrometheusRule")
	}
	for name, source := range externalMetrics {
		if !strings.Contains(string(readme), name) {
			t.Errorf("external metric %s (%s) is not documented in README.md", name, source)
		}
	}

	alerts := map[string]bool{}
	for _, pr := range rules {
		for _, g := range pr.Spec.Groups {
			for _, rule := range g.Rules {
				if rule.Alert == "" {
					t.Errorf("group %s: a rule without alert name (recording rules are not used here)", g.Name)
					continue
				}
				if alerts[rule.Alert] {
					t.Errorf("alert %s defined twice", rule.Alert)
				}
				alerts[rule.Alert] = true
				checkAlert(t, rule, src, jobs, runbook)
			}
		}
	}
	// The runbook documents no alert that does not exist (a renamed alert
	// would leave a stale line behind).
	for _, m := range regexp.MustCompile(`\| \*\*(Cobra[A-Za-z]+)\*\*`).FindAllStringSubmatch(runbook, -1) {
		if !alerts[m[1]] {
			t.Errorf("README.md runbook describes alert %s, which no rule defines", m[1])
		}
	}
	for _, must := range []string{"cobra_gateway_chat_sockets_open", "grpc_server_handling_seconds_bucket", "cobra_db_pool_empty_acquire_total", "gnatsd_varz_slow_consumers", "grpc_server_handled_total"} {
		found := false
		for _, pr := range rules {
			for _, g := range pr.Spec.Groups {
				for _, rule := range g.Rules {
					found = found || strings.Contains(rule.Expr.String(), must)
				}
			}
		}
		if !found {
			t.Errorf("no alert watches %s", must)
		}
	}
}

// checkPodMonitor: pm selects exactly one service's pods, scrapes a named
// container port that exists on them, and names its job after a pod label
// they carry. It returns the job values it produces.
func checkPodMonitor(t *testing.T, r *rendered, pm *monitoringv1.PodMonitor) []string {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil || sel.Empty() {
		t.Errorf("PodMonitor %s: selector %v empty or invalid (%v)", pm.Name, pm.Spec.Selector, err)
		return nil
	}
	targets := selecting(r, sel)
	if len(targets) != 1 {
		t.Errorf("PodMonitor %s selects %d workloads, want 1", pm.Name, len(targets))
		return nil
	}
	w := targets[0]
	job, ok := w.template.Labels[pm.Spec.JobLabel]
	if !ok {
		t.Errorf("PodMonitor %s: jobLabel %q is not a label of %s's pods", pm.Name, pm.Spec.JobLabel, w.name)
	}
	if len(pm.Spec.PodMetricsEndpoints) == 0 {
		t.Errorf("PodMonitor %s: no endpoints", pm.Name)
	}
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		if ep.Port == nil || !slices.ContainsFunc(w.template.Spec.Containers, func(c corev1.Container) bool {
			return hasPort(c, w.template.Annotations["prometheus.io/port"], *ep.Port)
		}) {
			t.Errorf("PodMonitor %s: port %v is not %s's admin port %s", pm.Name, ep.Port, w.name, w.template.Annotations["prometheus.io/port"])
		}
		if ep.Path != "/metrics" {
			t.Errorf("PodMonitor %s: path %q, want /metrics", pm.Name, ep.Path)
		}
	}
	return []string{job}
}

// checkAlert: one alert rule's expression, duration, labels and runbook.
func checkAlert(t *testing.T, rule monitoringv1.Rule, src codeSources, jobs map[string]bool, runbook string) {
	t.Helper()
	where := "alert " + rule.Alert
	expr, err := parser.ParseExpr(rule.Expr.String())
	if err != nil {
		t.Errorf("%s: expr does not parse: %v", where, err)
		return
	}
	if expr.Type() != parser.ValueTypeVector {
		t.Errorf("%s: expr is a %s, want an instant vector", where, expr.Type())
	}
	for _, vs := range selectors(expr) {
		if vs.Name == "" {
			t.Errorf("%s: selector %s has no metric name", where, vs)
			continue
		}
		if _, ok := externalMetrics[vs.Name]; ok {
			continue
		}
		// The job matcher says which services' metrics these are; each of
		// them must register the name (a gateway metric with job="chat"
		// would match nothing).
		var matched []string
		for _, m := range vs.LabelMatchers {
			if m.Name != "job" {
				continue
			}
			if m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
				t.Errorf("%s: %s selects jobs by exclusion; name them", where, vs)
			}
			for job := range jobs {
				if m.Matches(job) {
					matched = append(matched, job)
				}
			}
			if len(matched) == 0 {
				t.Errorf("%s: %s matches no scraped job %v", where, m, jobs)
			}
		}
		if len(matched) == 0 && !slices.ContainsFunc(envscan.Services, func(svc string) bool { return src.registers(svc, vs.Name) }) {
			t.Errorf("%s: metric %s is registered nowhere under services/ or platform/", where, vs.Name)
		}
		for _, job := range matched {
			if !src.registers(job, vs.Name) {
				t.Errorf("%s: metric %s is not registered by services/%s or platform/", where, vs.Name, job)
			}
		}
	}
	if rule.For == nil {
		t.Errorf("%s: no `for` (a single bad scrape would page)", where)
	} else if _, err := model.ParseDuration(string(*rule.For)); err != nil {
		t.Errorf("%s: for: %v", where, err)
	}
	if sev := rule.Labels["severity"]; sev != "warning" && sev != "critical" {
		t.Errorf("%s: severity %q, want warning or critical", where, sev)
	}
	if !strings.HasSuffix(rule.Annotations["runbook_url"], "/deploy/k8s/README.md#alert-runbook") {
		t.Errorf("%s: runbook_url %q must point at deploy/k8s/README.md#alert-runbook", where, rule.Annotations["runbook_url"])
	}
	if !strings.Contains(runbook, "| **"+rule.Alert+"** |") {
		t.Errorf("%s: no runbook line (| **%s** | ...) in README.md's Alert runbook", where, rule.Alert)
	}
	// Prometheus expands annotations as Go templates with $labels and
	// $value defined and its own functions; a syntax error there only
	// shows when the alert fires.
	funcs := template.FuncMap{}
	for _, f := range []string{"humanize", "humanizePercentage", "humanizeDuration"} {
		funcs[f] = func(any) string { return "" }
	}
	for k, v := range rule.Annotations {
		if _, err := template.New(k).Funcs(funcs).Parse("{{$labels := .Labels}}{{$value := .Value}}" + v); err != nil {
			t.Errorf("%s: annotation %s: %v", where, k, err)
		}
	}
}

// section returns the part of md from heading up to the next heading of the
// same or a higher level.
func section(md, heading string) string {
	i := strings.Index(md, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := md[i+1+len(heading):]
	level := strings.Count(strings.Fields(heading)[0], "#")
	for _, m := range regexp.MustCompile(`(?m)^#{1,`+fmt.Sprint(level)+`} `).FindAllStringIndex(rest, -1) {
		return rest[:m[0]]
	}
	return rest
}

// adapterRule is one prometheus-adapter discovery rule (its config format,
// docs/config.md upstream), decoded strictly.
type adapterRule struct {
	SeriesQuery   string `json:"seriesQuery"`
	SeriesFilters []struct {
		Is    string `json:"is,omitempty"`
		IsNot string `json:"isNot,omitempty"`
	} `json:"seriesFilters,omitempty"`
	Resources struct {
		Overrides map[string]struct {
			Group    string `json:"group,omitempty"`
			Resource string `json:"resource"`
		} `json:"overrides,omitempty"`
		Template string `json:"template,omitempty"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as,omitempty"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

// adapterMetrics decodes the prometheus-adapter rules and checks each one;
// it returns the custom metric names they expose, mapped to the service
// whose series they read.
func adapterMetrics(t *testing.T, src codeSources) map[string]string {
	t.Helper()
	var cfg string
	for _, res := range build(t, filesys.MakeFsOnDisk(), "monitoring/prometheus-adapter") {
		cm := &corev1.ConfigMap{}
		if res.GetKind() != "ConfigMap" {
			t.Fatalf("prometheus-adapter: unexpected %s %s", res.GetKind(), res.GetName())
		}
		decodeStrict(t, res, cm)
		if res.GetNamespace() != "monitoring" {
			t.Errorf("ConfigMap %s in namespace %q, want monitoring (beside the adapter)", cm.Name, res.GetNamespace())
		}
		cfg = cm.Data["config.yaml"]
	}
	var parsed struct {
		Rules []adapterRule `json:"rules"`
	}
	if err := yaml.UnmarshalStrict([]byte(cfg), &parsed); err != nil || len(parsed.Rules) == 0 {
		t.Fatalf("adapter config.yaml: %v (%d rules)", err, len(parsed.Rules))
	}
	exposed := map[string]string{}
	for _, rule := range parsed.Rules {
		sel, err := parser.ParseExpr(rule.SeriesQuery)
		vs, ok := sel.(*parser.VectorSelector)
		if err != nil || !ok {
			t.Errorf("adapter seriesQuery %q is not a series selector: %v", rule.SeriesQuery, err)
			continue
		}
		owner := ""
		for _, svc := range envscan.Services {
			if src.registers(svc, vs.Name) && !src.registers("", vs.Name) {
				owner = svc
			}
		}
		if owner == "" {
			t.Errorf("adapter rule reads %s, which no single service registers", vs.Name)
			continue
		}
		// The HPA asks for the metric of pods in its namespace; without
		// these two overrides the adapter cannot attribute a series to one.
		for _, l := range []string{"namespace", "pod"} {
			if rule.Resources.Overrides[l].Resource != l {
				t.Errorf("adapter rule %s: label %s must map to resource %s, got %+v", vs.Name, l, l, rule.Resources.Overrides)
			}
		}
		re, err := regexp.Compile(rule.Name.Matches)
		if err != nil || !re.MatchString(vs.Name) {
			t.Errorf("adapter rule %s: name.matches %q does not match it (%v)", vs.Name, rule.Name.Matches, err)
			continue
		}
		name := re.ReplaceAllString(vs.Name, rule.Name.As)
		tmpl, err := template.New(name).Delims("<<", ">>").Parse(rule.MetricsQuery)
		if err != nil {
			t.Errorf("adapter rule %s: metricsQuery: %v", name, err)
			continue
		}
		// What the adapter sends for one HPA query of this namespace's pods.
		var q bytes.Buffer
		err = tmpl.Execute(&q, map[string]string{
			"Series": vs.Name, "LabelMatchers": `namespace="cobraspace",pod=~"a-1|a-2"`, "GroupBy": "pod",
		})
		if err != nil {
			t.Errorf("adapter rule %s: metricsQuery: %v", name, err)
			continue
		}
		expr, err := parser.ParseExpr(q.String())
		if err != nil {
			t.Errorf("adapter rule %s: metricsQuery renders to %q, which does not parse: %v", name, q.String(), err)
			continue
		}
		if agg, ok := expr.(*parser.AggregateExpr); !ok || agg.Without || !slices.Equal(agg.Grouping, []string{"pod"}) {
			t.Errorf("adapter rule %s: %q must aggregate by the GroupBy labels (one value per pod)", name, q.String())
		}
		if strings.HasSuffix(vs.Name, "_total") && !strings.Contains(q.String(), "rate(") {
			t.Errorf("adapter rule %s: %s is a counter; expose its rate", name, vs.Name)
		}
		exposed[name] = owner
	}
	return exposed
}

// TestCustomMetricsAutoscaling: in prod the gateway scales on sockets per
// pod and chat on persisted messages per second per pod, each next to CPU;
// every custom metric an HPA reads is one the prometheus-adapter rules
// expose from a series the scaled service really registers; dev, which
// runs no adapter, scales on resources only.
func TestCustomMetricsAutoscaling(t *testing.T) {
	t.Parallel()
	src := loadSources(t)
	exposed := adapterMetrics(t, src)
	used := map[string]bool{}
	want := map[string]string{"gateway": "cobra_gateway_chat_sockets_open", "chat": "chat_messages_persisted_per_second"}
	for _, overlay := range []string{"overlays/prod", "overlays/prod-gateway-api"} {
		r := render(t, overlay)
		for _, h := range r.hpas {
			target := h.Spec.ScaleTargetRef.Name
			var pods []string
			cpu := false
			for _, m := range h.Spec.Metrics {
				switch m.Type {
				case autoscalingv2.PodsMetricSourceType:
					name := m.Pods.Metric.Name
					pods = append(pods, name)
					used[name] = true
					if owner, ok := exposed[name]; !ok || owner != target {
						t.Errorf("%s: HPA %s reads %s, which the adapter rules do not expose from %s's series (exposed: %v)", overlay, h.Name, name, target, exposed)
					}
					if m.Pods.Target.Type != autoscalingv2.AverageValueMetricType || m.Pods.Target.AverageValue == nil || m.Pods.Target.AverageValue.Sign() <= 0 {
						t.Errorf("%s: HPA %s: %s needs a positive averageValue target (per pod)", overlay, h.Name, name)
					}
				case autoscalingv2.ResourceMetricSourceType:
					cpu = cpu || m.Resource.Name == corev1.ResourceCPU
				default:
					t.Errorf("%s: HPA %s: metric type %s not expected", overlay, h.Name, m.Type)
				}
			}
			if w, ok := want[target]; ok && (!slices.Contains(pods, w) || !cpu) {
				t.Errorf("%s: HPA %s must scale on %s and on CPU, got pods %v cpu %v", overlay, h.Name, w, pods, cpu)
			}
		}
	}
	for name := range exposed {
		if !used[name] {
			t.Errorf("adapter exposes %s but no prod HPA reads it", name)
		}
	}
	for _, h := range render(t, "overlays/dev").hpas {
		for _, m := range h.Spec.Metrics {
			if m.Type != autoscalingv2.ResourceMetricSourceType {
				t.Errorf("dev: HPA %s reads a %s metric; dev runs no prometheus-adapter, so it would never scale down", h.Name, m.Type)
			}
		}
	}
}

// documentedSecret is `kubectl create secret generic NAME --from-literal=KEY='VALUE'`.
var documentedSecret = regexp.MustCompile(`create secret generic ([a-z0-9-]+) \\\n\s*--from-literal=([A-Z_]+)='([^']+)'`)

// TestStorePortsAllowed: in prod, every store a pod is pointed at — by its
// ConfigMaps, or by the Secrets exactly as README.md tells operators to
// create them — is reachable on that URL's port through the pod's egress
// NetworkPolicies. (A REDIS_URL on a port the policy drops fails open:
// the rate limits and the session denylist silently stop working.)
func TestStorePortsAllowed(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{} // "secret/key" -> value
	for _, m := range documentedSecret.FindAllStringSubmatch(string(readme), -1) {
		secrets[m[1]+"/"+m[2]] = m[3]
	}
	if secrets["cobraspace-redis/REDIS_URL"] == "" || secrets["cobraspace-chat-db/DATABASE_URL"] == "" {
		t.Fatalf("README.md documents no REDIS_URL or chat DATABASE_URL secret (found %v)", secrets)
	}
	for _, overlay := range []string{"overlays/prod", "overlays/prod-gateway-api"} {
		r := render(t, overlay)
		for _, d := range r.deployments {
			c := d.Spec.Template.Spec.Containers[0]
			vals := envValues(r, c)
			for _, e := range c.Env {
				if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
					if v, ok := secrets[ref.SecretKeyRef.Name+"/"+ref.SecretKeyRef.Key]; ok {
						vals[e.Name] = v
					}
				}
			}
			for name, val := range vals {
				if !strings.HasSuffix(name, "_URL") {
					continue
				}
				for _, one := range strings.Split(val, ",") {
					u, err := url.Parse(one)
					if err != nil || u.Port() == "" {
						continue
					}
					port64, err := strconv.ParseInt(u.Port(), 10, 32)
					if err != nil {
						t.Errorf("%s: Deployment %s: %s has port %q: %v", overlay, d.Name, name, u.Port(), err)
						continue
					}
					port := int32(port64)
					if !egressLeavesNamespace(r, k8slabels.Set(d.Spec.Template.Labels), port) {
						t.Errorf("%s: Deployment %s gets %s=%s but no NetworkPolicy lets it out to port %d", overlay, d.Name, name, u.Redacted(), port)
					}
				}
			}
		}
	}
}

// egressLeavesNamespace: some egress rule of a policy selecting pod allows
// port to a peer outside the namespace (an ipBlock or another namespace).
func egressLeavesNamespace(r *rendered, pod k8slabels.Set, port int32) bool {
	for _, np := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || !sel.Matches(pod) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			continue
		}
		for _, rule := range np.Spec.Egress {
			portOK := len(rule.Ports) == 0 || slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool {
				return p.Port == nil || p.Port.IntValue() == int(port)
			})
			peerOK := len(rule.To) == 0 || slices.ContainsFunc(rule.To, func(p networkingv1.NetworkPolicyPeer) bool {
				return p.IPBlock != nil || p.NamespaceSelector != nil
			})
			if portOK && peerOK {
				return true
			}
		}
	}
	return false
}

// TestConfigChangeRollsPods: changing a value in a ConfigMap changes the
// pod template of exactly the Deployments that read it, so `kubectl apply`
// rolls them (and only them) without a manual restart.
func TestConfigChangeRollsPods(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(tmp, filepath.Dir(path)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	templates := func() map[string]string {
		out := map[string]string{}
		for _, res := range build(t, filesys.MakeFsOnDisk(), filepath.Join(tmp, "overlays/dev")) {
			if res.GetKind() != "Deployment" {
				continue
			}
			tmpl, err := res.GetFieldValue("spec.template")
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			out[res.GetName()] = string(b)
		}
		return out
	}
	edit := func(file, from, to string) {
		path := filepath.Join(tmp, file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(from)) {
			t.Fatalf("%s has no %q", file, from)
		}
		if err := os.WriteFile(path, bytes.Replace(b, []byte(from), []byte(to), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, before, after map[string]string, wantRolled []string) {
		for name := range before {
			rolled := before[name] != after[name]
			if want := slices.Contains(wantRolled, name); rolled != want {
				t.Errorf("after changing %s, Deployment %s template changed=%v, want %v", what, name, rolled, want)
			}
		}
	}

	v0 := templates()
	edit("base/config/gateway.env", "SHUTDOWN_GRACE=30s", "SHUTDOWN_GRACE=25s")
	v1 := templates()
	check("the gateway's SHUTDOWN_GRACE", v0, v1, []string{"gateway"})
	edit("base/config/common.env", "LOG_LEVEL=info", "LOG_LEVEL=debug")
	v2 := templates()
	check("LOG_LEVEL", v1, v2, envscan.Services)
	edit("overlays/dev/kustomization.yaml", "COOKIE_SECURE=false", "COOKIE_SECURE=true")
	check("an overlay's merged gateway value", v2, templates(), []string{"gateway"})
}

// checkEdgePolicy: the gateway's HTTP port accepts connections from the
// edge (a namespace other than monitoring), or nothing reaches the site.
func checkEdgePolicy(t *testing.T, r *rendered) {
	t.Helper()
	gw := findDeployment(r, "gateway")
	if gw == nil {
		return
	}
	var httpPort int32
	for _, p := range gw.Spec.Template.Spec.Containers[0].Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	for _, np := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || sel.Empty() || !sel.Matches(k8slabels.Set(gw.Spec.Template.Labels)) {
			continue
		}
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				ns := peer.NamespaceSelector
				if ns == nil || ns.MatchLabels["kubernetes.io/metadata.name"] == "monitoring" {
					continue
				}
				if slices.ContainsFunc(rule.Ports, func(p networkingv1.NetworkPolicyPort) bool {
					return p.Port != nil && p.Port.IntValue() == int(httpPort)
				}) {
					return
				}
			}
		}
	}
	t.Errorf("no NetworkPolicy lets the edge (ingress controller or Gateway API data plane) reach the gateway's port %d", httpPort)
}
