package validate

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/clearway/clearway/pkg/policy"
)

// k8sDir is deploy/k8s, relative to this package.
const k8sDir = ".."

func newChecker(t *testing.T) *Checker {
	t.Helper()
	c, err := NewChecker("testdata/schemas")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kustomizations finds every kustomization under deploy/k8s, so a new overlay or job
// folder is validated without anyone remembering to list it.
func kustomizations(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(k8sDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"base", "overlays/dev", "overlays/statewide", "jobs/ingest", "jobs/generated-load"} {
		if !slices.Contains(dirs, filepath.Join(k8sDir, want)) {
			t.Fatalf("kustomization %s not found (found %v)", want, dirs)
		}
	}
	return dirs
}

func render(t *testing.T, dir string) []Object {
	t.Helper()
	objs, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s renders no objects", dir)
	}
	return objs
}

// TestEveryKustomizationValidates is the CI gate: every kustomization renders, and every
// object it renders passes its schema with unknown fields rejected.
func TestEveryKustomizationValidates(t *testing.T) {
	c := newChecker(t)
	for _, dir := range kustomizations(t) {
		t.Run(strings.TrimPrefix(dir, k8sDir+"/"), func(t *testing.T) {
			for _, o := range render(t, dir) {
				if err := c.Check(o); err != nil {
					t.Error(err)
				}
				if o.Namespace != "clearway" && o.Kind != "Namespace" {
					t.Errorf("%s: want namespace clearway", o.ID())
				}
			}
		})
	}
}

// TestCustomResourcesHaveSchemas guards the schema list itself: each vendored schema is
// used by some rendered object, and the overlays use each of them.
func TestCustomResourcesHaveSchemas(t *testing.T) {
	c := newChecker(t)
	want := []string{
		"clickhouse.altinity.com/v1 ClickHouseInstallation",
		"kafka.strimzi.io/v1beta2 Kafka",
		"kafka.strimzi.io/v1beta2 KafkaNodePool",
		"kafka.strimzi.io/v1beta2 KafkaTopic",
		"keda.sh/v1alpha1 ScaledObject",
	}
	if got := c.Kinds(); !slices.Equal(got, want) {
		t.Fatalf("schemas for %v, want %v", got, want)
	}
	seen := map[string]bool{}
	for _, o := range render(t, filepath.Join(k8sDir, "overlays/statewide")) {
		seen[o.APIVersion+" "+o.Kind] = true
	}
	for _, k := range want {
		if !seen[k] {
			t.Errorf("statewide renders no %s", k)
		}
	}
}

// find returns the rendered object of kind and name.
func find(t *testing.T, objs []Object, kind, name string) Object {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return Object{}
}

// mutate returns a copy of o with edit applied to its map.
func mutate(t *testing.T, o Object, edit func(m map[string]any)) Object {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(o.JSON, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	o.JSON, o.Map = js, m
	return o
}

func at(v any, path ...any) map[string]any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			v = v.(map[string]any)[p]
		case int:
			v = v.([]any)[p]
		}
	}
	return v.(map[string]any)
}

// TestTypoFails is the negative test the acceptance asks for: one misspelt field (or
// bad value) in each kind of object fails validation, naming the field.
func TestTypoFails(t *testing.T) {
	c := newChecker(t)
	objs := render(t, filepath.Join(k8sDir, "overlays/statewide"))
	cases := []struct {
		name, kind, obj string
		edit            func(m map[string]any)
		wantErr         string
	}{
		{"deployment spec field", "Deployment", "clearway-sink",
			func(m map[string]any) { at(m, "spec")["replcas"] = 2 }, "replcas"},
		{"container field", "Deployment", "clearway-evaluator",
			func(m map[string]any) {
				at(m, "spec", "template", "spec", "containers", 0)["imagePullPolicyy"] = "Always"
			}, "imagePullPolicyy"},
		{"probe field", "Deployment", "clearway-evaluator",
			func(m map[string]any) {
				at(m, "spec", "template", "spec", "containers", 0, "readinessProbe")["periodSecond"] = 5
			}, "periodSecond"},
		{"bad quantity", "Deployment", "clearway-sink",
			func(m map[string]any) {
				at(m, "spec", "template", "spec", "containers", 0, "resources", "limits")["memory"] = "6Gii"
			}, "quantity"},
		{"service field", "Service", "clearway-sink",
			func(m map[string]any) { at(m, "spec", "ports", 0)["targetPor"] = "http" }, "targetPor"},
		{"pdb field", "PodDisruptionBudget", "clearway-evaluator",
			func(m map[string]any) { at(m, "spec")["maxUnavailabe"] = 1 }, "maxUnavailabe"},
		{"metadata field of a custom resource", "KafkaTopic", "clearway.subjects.v1",
			func(m map[string]any) { at(m, "metadata")["label"] = map[string]any{"a": "b"} }, "label"},
		{"kafka topic spec", "KafkaTopic", "clearway.subjects.v1",
			func(m map[string]any) { at(m, "spec")["partitons"] = 24 }, "partitons"},
		{"kafka topic partitions below 1", "KafkaTopic", "clearway.control.v1",
			func(m map[string]any) { at(m, "spec")["partitions"] = 0 }, "minimum"},
		{"kafka listener", "Kafka", "clearway",
			func(m map[string]any) { at(m, "spec", "kafka", "listeners", 0)["tsl"] = false }, "tsl"},
		{"kafka node pool role", "KafkaNodePool", "dual",
			func(m map[string]any) { at(m, "spec")["roles"] = []any{"brokers"} }, "/spec/roles/0"},
		{"keda kafka trigger metadata key", "ScaledObject", "clearway-evaluator",
			func(m map[string]any) {
				md := at(m, "spec", "triggers", 0, "metadata")
				md["lagTreshold"] = md["lagThreshold"]
				delete(md, "lagThreshold")
			}, "lagTreshold"},
		{"keda spec field", "ScaledObject", "clearway-evaluator",
			func(m map[string]any) { at(m, "spec")["maxReplicas"] = 3 }, "maxReplicas"},
		{"clickhouse pod template container", "ClickHouseInstallation", "clearway",
			func(m map[string]any) {
				at(m, "spec", "templates", "podTemplates", 0, "spec", "containers", 0)["resorces"] = map[string]any{}
			}, "resorces"},
		{"clickhouse configuration", "ClickHouseInstallation", "clearway",
			func(m map[string]any) { at(m, "spec", "configuration")["cluster"] = []any{} }, "cluster"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := find(t, objs, tc.kind, tc.obj)
			if err := c.Check(o); err != nil {
				t.Fatalf("unmodified object fails: %v", err)
			}
			err := c.Check(mutate(t, o, tc.edit))
			if err == nil {
				t.Fatal("typo accepted")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

// TestTypoInOverlayFails goes through kustomize: an overlay whose patch misspells a
// field renders (kustomize does not know the schema) and then fails validation.
func TestTypoInOverlayFails(t *testing.T) {
	dir := t.TempDir()
	// kustomize accepts only relative paths to other kustomizations.
	absBase, err := filepath.Abs(filepath.Join(k8sDir, "base"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Rel(dir, absBase)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"kustomization.yaml": "resources:\n  - " + base + "\npatches:\n  - path: patch.yaml\n",
		"patch.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: clearway-evaluator
spec:
  template:
    spec:
      terminationGracePeriodSecond: 10
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newChecker(t)
	var errs []string
	for _, o := range render(t, dir) {
		if err := c.Check(o); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "terminationGracePeriodSecond") || !strings.Contains(errs[0], "Deployment clearway/clearway-evaluator") {
		t.Fatalf("errors %q, want one naming terminationGracePeriodSecond in the evaluator Deployment", errs)
	}
}

// rendered holds an overlay's objects decoded into their types.
type rendered struct {
	objs        []Object
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	names       map[string]bool // "Kind/name" of every object
}

func decodeAll(t *testing.T, objs ...[]Object) rendered {
	t.Helper()
	r := rendered{deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{}, names: map[string]bool{}}
	for _, os := range objs {
		for _, o := range os {
			r.objs = append(r.objs, o)
			r.names[o.Kind+"/"+o.Name] = true
			switch o.Kind {
			case "Deployment":
				var d appsv1.Deployment
				if err := DecodeStrict(o.JSON, &d); err != nil {
					t.Fatal(err)
				}
				r.deployments[o.Name] = &d
			case "Job":
				var j batchv1.Job
				if err := DecodeStrict(o.JSON, &j); err != nil {
					t.Fatal(err)
				}
				r.jobs[o.Name] = &j
			}
		}
	}
	return r
}

// podSpecs lists every Clearway pod template with the workload it belongs to.
func (r rendered) podSpecs() map[string]*corev1.PodTemplateSpec {
	ps := map[string]*corev1.PodTemplateSpec{}
	for n, d := range r.deployments {
		ps["Deployment/"+n] = &d.Spec.Template
	}
	for n, j := range r.jobs {
		ps["Job/"+n] = &j.Spec.Template
	}
	return ps
}

// flag returns the value of --name=value in args, or "".
func flag(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// deployments pairs each job folder with the overlay whose cluster it runs in.
var deployments = []struct {
	overlay, job string
	// fullScale: KEDA may run one evaluator per partition (dev stays at one).
	fullScale bool
	// externalSecrets are created out of band (docs/operations.md), not rendered.
	externalSecrets []string
}{
	{"overlays/dev", "jobs/generated-load", false, nil},
	{"overlays/statewide", "jobs/ingest", true, []string{"clearway-clickhouse", "clearway-pseudonym-key"}},
}

// TestDeploymentInvariants checks what a schema cannot: that the pieces of one
// deployment agree with each other and with the project's operating rules.
func TestDeploymentInvariants(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.overlay, func(t *testing.T) {
			r := decodeAll(t, render(t, filepath.Join(k8sDir, dep.overlay)), render(t, filepath.Join(k8sDir, dep.job)))
			checkPartitions(t, r, dep.fullScale)
			checkPods(t, r)
			checkReferences(t, r, dep.externalSecrets)
			checkSelectors(t, r)
			if dep.externalSecrets != nil {
				for _, o := range r.objs {
					if o.Kind == "Secret" {
						t.Errorf("%s: this overlay must not carry secret values", o.ID())
					}
				}
			}
		})
	}
}

// checkPartitions: fullScale requires KEDA to be allowed one evaluator per partition.
func checkPartitions(t *testing.T, r rendered, fullScale bool) {
	t.Helper()
	topics := map[string]Object{}
	var brokers float64
	for _, o := range r.objs {
		switch o.Kind {
		case "KafkaTopic":
			topics[o.Name] = o
		case "KafkaNodePool":
			if roles, _ := Lookup(o.Map, "spec", "roles").([]any); slices.Contains(roles, any("broker")) {
				brokers += Lookup(o.Map, "spec", "replicas").(float64)
			}
		}
	}
	var names []string
	for n, o := range topics {
		names = append(names, n)
		replicas := Lookup(o.Map, "spec", "replicas").(float64)
		if replicas > brokers {
			t.Errorf("topic %s: %v replicas on %v brokers", n, replicas, brokers)
		}
		if isr, err := strconv.ParseFloat(toString(Lookup(o.Map, "spec", "config", "min.insync.replicas")), 64); err != nil || isr > replicas {
			t.Errorf("topic %s: min.insync.replicas %v with %v replicas", n, Lookup(o.Map, "spec", "config", "min.insync.replicas"), replicas)
		}
		if Lookup(o.Map, "metadata", "labels", "strimzi.io/cluster") != "clearway" {
			t.Errorf("topic %s: not labelled for the Kafka cluster clearway", n)
		}
	}
	slices.Sort(names)
	want := []string{"clearway.control.v1", "clearway.deadletter.v1", "clearway.decisions.v1", "clearway.subjects.v1"}
	if !slices.Equal(names, want) {
		t.Fatalf("topics %v, want %v", names, want)
	}
	parts := func(topic string) string {
		return toString(Lookup(topics[topic].Map, "spec", "partitions"))
	}
	p := parts("clearway.subjects.v1")
	if parts("clearway.decisions.v1") != p || parts("clearway.deadletter.v1") != p {
		t.Errorf("partitions: subjects %s, decisions %s, dead-letter %s; want equal", p, parts("clearway.decisions.v1"), parts("clearway.deadletter.v1"))
	}
	if parts("clearway.control.v1") != "1" {
		t.Errorf("control topic has %s partitions, want 1", parts("clearway.control.v1"))
	}
	for name, pt := range r.podSpecs() {
		for _, ctr := range pt.Spec.Containers {
			if ctr.Args[0] == "gen" {
				continue
			}
			if got := flag(ctr.Args, "partitions"); got != p {
				t.Errorf("%s: --partitions=%s, subjects topic has %s", name, got, p)
			}
		}
	}
	so := find(t, r.objs, "ScaledObject", "clearway-evaluator")
	maxEval := toString(Lookup(so.Map, "spec", "maxReplicaCount"))
	if n, _ := strconv.Atoi(maxEval); n < 1 || n > mustAtoi(t, p) || (fullScale && maxEval != p) {
		t.Errorf("ScaledObject maxReplicaCount %s, subjects topic has %s partitions (more evaluators would idle)", maxEval, p)
	}
	if Lookup(so.Map, "spec", "scaleTargetRef", "name") != "clearway-evaluator" || r.deployments["clearway-evaluator"] == nil {
		t.Error("ScaledObject does not target the clearway-evaluator Deployment")
	}
	if r.deployments["clearway-evaluator"].Spec.Replicas != nil {
		t.Error("evaluator Deployment sets replicas; KEDA owns the count and an apply would reset it")
	}
	trig := Lookup(so.Map, "spec", "triggers").([]any)[0]
	evalArgs := r.deployments["clearway-evaluator"].Spec.Template.Spec.Containers[0].Args
	if Lookup(trig, "metadata", "topic") != "clearway.subjects.v1" {
		t.Errorf("KEDA watches topic %v", Lookup(trig, "metadata", "topic"))
	}
	group := flag(evalArgs, "group")
	if group == "" {
		group = "clearway-evaluator" // the evaluator's default --group
	}
	if Lookup(trig, "metadata", "consumerGroup") != group {
		t.Errorf("KEDA watches group %v, evaluators consume as %s", Lookup(trig, "metadata", "consumerGroup"), group)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func toString(v any) string {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	return ""
}

// checkPods holds every Clearway pod to the restricted Pod Security Standard and the
// operating rules: requests and a memory limit, probes on Deployments, a tagged image.
func checkPods(t *testing.T, r rendered) {
	t.Helper()
	for name, pt := range r.podSpecs() {
		ps := pt.Spec
		sc := ps.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod needs runAsNonRoot and seccomp RuntimeDefault", name)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token it never uses", name)
		}
		for _, ctr := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
			id := name + " container " + ctr.Name
			csc := ctr.SecurityContext
			if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
				csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
				csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s: needs allowPrivilegeEscalation false, readOnlyRootFilesystem, drop ALL", id)
			}
			if ctr.Resources.Requests.Cpu().IsZero() || ctr.Resources.Requests.Memory().IsZero() || ctr.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: needs cpu and memory requests and a memory limit", id)
			}
			if img := ctr.Image; !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
				t.Errorf("%s: image %q has no pinned tag", id, img)
			}
			if strings.HasPrefix(name, "Deployment/") {
				for probe, p := range map[string]*corev1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe, "startup": ctr.StartupProbe} {
					if p == nil || p.HTTPGet == nil {
						t.Errorf("%s: no HTTP %s probe", id, probe)
						continue
					}
					if !slices.ContainsFunc(ctr.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.HTTPGet.Port.String() }) {
						t.Errorf("%s: %s probe on port %q, which the container does not name", id, probe, p.HTTPGet.Port.String())
					}
				}
				if ctr.ReadinessProbe != nil && ctr.ReadinessProbe.HTTPGet != nil && ctr.ReadinessProbe.HTTPGet.Path != "/readyz" {
					t.Errorf("%s: readiness probe on %s, want /readyz", id, ctr.ReadinessProbe.HTTPGet.Path)
				}
				if got := flag(ctr.Args, "http"); got != ":8080" {
					t.Errorf("%s: --http=%s, want :8080 (the port probes and scrapes use)", id, got)
				}
			}
		}
	}
	// The ClickHouse pods come from the operator, but their template is ours.
	chi := find(t, r.objs, "ClickHouseInstallation", "clearway")
	var pod corev1.PodSpec
	if err := decodeValue(Lookup(chi.Map, "spec", "templates", "podTemplates").([]any)[0].(map[string]any)["spec"], &pod); err != nil {
		t.Fatal(err)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("ClickHouse pod template lost its security context (a merge patch replaced the list?)")
	}
	if pod.Containers[0].Resources.Limits.Memory().IsZero() {
		t.Error("ClickHouse container has no memory limit")
	}
}

// checkReferences makes sure every ConfigMap, Secret, volume claim and service account
// a pod names is rendered (or is one of the documented out-of-band Secrets).
func checkReferences(t *testing.T, r rendered, externalSecrets []string) {
	t.Helper()
	need := func(who, kind, name string) {
		if kind == "Secret" && slices.Contains(externalSecrets, name) {
			return
		}
		if !r.names[kind+"/"+name] {
			t.Errorf("%s refers to %s %s, which is not rendered", who, kind, name)
		}
	}
	for name, pt := range r.podSpecs() {
		ps := pt.Spec
		need(name, "ServiceAccount", ps.ServiceAccountName)
		for _, v := range ps.Volumes {
			switch {
			case v.ConfigMap != nil:
				need(name, "ConfigMap", v.ConfigMap.Name)
			case v.Secret != nil:
				need(name, "Secret", v.Secret.SecretName)
			case v.PersistentVolumeClaim != nil:
				need(name, "PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName)
			}
		}
		for _, ctr := range append(slices.Clone(ps.InitContainers), ps.Containers...) {
			for _, ef := range ctr.EnvFrom {
				if ef.ConfigMapRef != nil {
					need(name, "ConfigMap", ef.ConfigMapRef.Name)
				}
			}
			for _, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					need(name, "Secret", e.ValueFrom.SecretKeyRef.Name)
				}
			}
			mounted := map[string]bool{}
			for _, m := range ctr.VolumeMounts {
				mounted[m.Name] = true
				if !slices.ContainsFunc(ps.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
					t.Errorf("%s container %s mounts undeclared volume %s", name, ctr.Name, m.Name)
				}
			}
			if p := flag(ctr.Args, "policies"); p != "" && !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == p }) {
				t.Errorf("%s: --policies=%s is not a mounted folder", name, p)
			}
		}
	}
	chi := find(t, r.objs, "ClickHouseInstallation", "clearway")
	need("ClickHouseInstallation/clearway", "Secret", toString(Lookup(chi.Map, "spec", "configuration", "users", "clearway/password", "valueFrom", "secretKeyRef", "name")))
}

// checkSelectors makes sure Services and PodDisruptionBudgets select pods that exist.
func checkSelectors(t *testing.T, r rendered) {
	t.Helper()
	matches := func(sel labels.Selector) int {
		n := 0
		for _, pt := range r.podSpecs() {
			if sel.Matches(labels.Set(pt.Labels)) {
				n++
			}
		}
		return n
	}
	for _, o := range r.objs {
		switch o.Kind {
		case "Service":
			var s corev1.Service
			if err := DecodeStrict(o.JSON, &s); err != nil {
				t.Fatal(err)
			}
			if matches(labels.SelectorFromSet(s.Spec.Selector)) != 1 {
				t.Errorf("%s: selector %v does not pick exactly one workload", o.ID(), s.Spec.Selector)
			}
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			if err := DecodeStrict(o.JSON, &p); err != nil {
				t.Fatal(err)
			}
			if matches(labels.SelectorFromSet(p.Spec.Selector.MatchLabels)) != 1 {
				t.Errorf("%s: selector %v does not pick exactly one workload", o.ID(), p.Spec.Selector.MatchLabels)
			}
		}
	}
	for n, d := range r.deployments {
		if !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector does not match its own pods", n)
		}
	}
}

// TestPoliciesConfigMap checks that the policies shipped in the ConfigMap are the
// project's own (schemas/policies) and load as a policy folder.
func TestPoliciesConfigMap(t *testing.T) {
	dir := filepath.Join(k8sDir, "base", "policies")
	copies := map[string]string{"default.yaml": "statewide-default.yaml", "los-angeles.yaml": "los-angeles-2020.yaml"}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(copies) {
		t.Errorf("%d files in %s, want %d (add new ones to this test and to the kustomization)", len(entries), dir, len(copies))
	}
	for cp, src := range copies {
		a, err := os.ReadFile(filepath.Join(dir, cp))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(k8sDir, "..", "..", "schemas", "policies", src))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from schemas/policies/%s; copy it again", cp, src)
		}
	}
	pols, err := policy.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pols.Default == nil || pols.ByCounty["LOS ANGELES"] == nil {
		t.Errorf("policy folder gives default %v and counties %v, want a default and LOS ANGELES", pols.Default != nil, len(pols.ByCounty))
	}
	// And the ConfigMap carries exactly these files.
	cm := find(t, render(t, filepath.Join(k8sDir, "base")), "ConfigMap", "clearway-policies")
	data, _ := Lookup(cm.Map, "data").(map[string]any)
	for cp := range copies {
		if _, ok := data[cp]; !ok {
			t.Errorf("ConfigMap clearway-policies has no %s", cp)
		}
	}
}

// TestTiltfileObjects checks that every object the Tiltfile groups into a resource
// ('name:kind') is one the dev overlay renders (or one the Tiltfile makes itself), so a
// renamed manifest cannot leave the dev loop pointing at nothing.
func TestTiltfileObjects(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(k8sDir, "..", "..", "Tiltfile"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]bool{
		// Made in the Tiltfile from deploy/grafana and deploy/prometheus.
		"clearway-dashboard:configmap": true,
		"clearway:prometheusrule":      true,
	}
	for _, o := range render(t, filepath.Join(k8sDir, "overlays/dev")) {
		rendered[o.Name+":"+strings.ToLower(o.Kind)] = true
	}
	workloads := regexp.MustCompile(`k8s_resource\('([a-z0-9-]+)'`)
	refs := regexp.MustCompile(`'([a-z0-9.-]+:[a-z]+)'`)
	n := 0
	for _, m := range refs.FindAllStringSubmatch(string(src), -1) {
		n++
		if !rendered[m[1]] {
			t.Errorf("Tiltfile names %s, which the dev overlay does not render", m[1])
		}
	}
	for _, m := range workloads.FindAllStringSubmatch(string(src), -1) {
		n++
		if !rendered[m[1]+":deployment"] {
			t.Errorf("Tiltfile configures workload %s, which the dev overlay does not render", m[1])
		}
	}
	if n < 10 {
		t.Fatalf("found only %d object references in the Tiltfile; has its syntax changed?", n)
	}
}
