// Package validate renders Clearway's kustomizations (deploy/k8s) in process and checks
// every rendered object against its schema, offline: built-in kinds are decoded into
// the k8s.io/api types with unknown and duplicate fields rejected, and custom resources
// (KEDA, Strimzi, Altinity) are validated against the JSON Schemas vendored in
// testdata/schemas. A misspelt field anywhere in a manifest is an error, as it is for
// an API server with strict field validation, so CI catches it before a cluster does.
//
// The package's tests are the CI check; the exported API exists so that they, and a
// future `clearway deploy lint`, share one implementation.
package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// JSON is the object exactly as kustomize rendered it.
	JSON []byte
	// Map is JSON decoded into maps, slices, strings, float64s and bools, for checks
	// that look at a few fields without caring about the type.
	Map map[string]any
}

// ID names the object for error messages: "apps/v1 Deployment clearway/clearway-sink".
func (o Object) ID() string {
	return fmt.Sprintf("%s %s %s/%s", o.APIVersion, o.Kind, o.Namespace, o.Name)
}

// Render builds the kustomization in dir, as `kubectl kustomize dir` does with default
// options (files only from inside the kustomization root, no plugins, no Helm).
func Render(dir string) ([]Object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objs []Object
	for _, r := range rm.Resources() {
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		objs = append(objs, Object{
			APIVersion: r.GetApiVersion(),
			Kind:       r.GetKind(),
			Namespace:  r.GetNamespace(),
			Name:       r.GetName(),
			JSON:       js,
			Map:        m,
		})
	}
	return objs, nil
}

// builtin maps "apiVersion kind" of the built-in kinds Clearway uses to their Go type.
// A kind missing here (and from the schemas) is an error: it cannot be checked.
func builtin(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, true
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "batch/v1 Job":
		return &batchv1.Job{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	}
	return nil, false
}

// DecodeStrict decodes JSON or YAML into v, failing on fields v's type does not have
// and on fields given twice: the check `kubectl apply --validate=strict` makes.
func DecodeStrict(data []byte, v any) error {
	return yaml.UnmarshalStrict(data, v)
}

// Checker validates objects. Build it with NewChecker.
type Checker struct {
	schemas map[string]*jsonschema.Schema // by "apiVersion kind"
}

// NewChecker compiles the JSON Schemas in schemaDir, one file per custom resource kind,
// named <group>_<version>_<Kind>.json (kafka.strimzi.io_v1beta2_KafkaTopic.json).
func NewChecker(schemaDir string) (*Checker, error) {
	paths, err := filepath.Glob(filepath.Join(schemaDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("schemas: no *.json in %s", schemaDir)
	}
	c := &Checker{schemas: map[string]*jsonschema.Schema{}}
	comp := jsonschema.NewCompiler()
	for _, p := range paths {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(p), ".json"), "_")
		if len(parts) != 3 {
			return nil, fmt.Errorf("schema %s: want a name <group>_<version>_<Kind>.json", p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", p, err)
		}
		url := "file://" + filepath.ToSlash(p)
		if err := comp.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", p, err)
		}
		sch, err := comp.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", p, err)
		}
		c.schemas[parts[0]+"/"+parts[1]+" "+parts[2]] = sch
	}
	return c, nil
}

// Kinds lists the custom resource kinds the checker has schemas for, sorted.
func (c *Checker) Kinds() []string {
	var ks []string
	for k := range c.schemas {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Check validates one object: a built-in kind by strict decoding into its k8s.io/api
// type, a custom resource by its JSON Schema plus a strict decode of its metadata and of
// the Kubernetes types it embeds. Objects of any other kind are errors.
func (c *Checker) Check(o Object) error {
	if v, ok := builtin(o.APIVersion, o.Kind); ok {
		if err := DecodeStrict(o.JSON, v); err != nil {
			return fmt.Errorf("%s: %w", o.ID(), err)
		}
		return nil
	}
	sch, ok := c.schemas[o.APIVersion+" "+o.Kind]
	if !ok {
		return fmt.Errorf("%s: no schema for this kind (add it to testdata/schemas or to builtin)", o.ID())
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(o.JSON))
	if err != nil {
		return fmt.Errorf("%s: %w", o.ID(), err)
	}
	var errs []error
	if err := sch.Validate(inst); err != nil {
		errs = append(errs, err)
	}
	if md, ok := o.Map["metadata"]; ok {
		if err := decodeValue(md, &metav1.ObjectMeta{}); err != nil {
			errs = append(errs, fmt.Errorf("metadata: %w", err))
		}
	}
	errs = append(errs, checkEmbedded(o)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", o.ID(), err)
	}
	return nil
}

// checkEmbedded strictly decodes the Kubernetes types a custom resource embeds, which
// the vendored schemas leave as plain objects rather than repeat the core API.
func checkEmbedded(o Object) []error {
	if o.Kind != "ClickHouseInstallation" {
		return nil
	}
	var errs []error
	embedded := []struct {
		list string
		new  func() any
	}{
		{"podTemplates", func() any { return &corev1.PodSpec{} }},
		{"volumeClaimTemplates", func() any { return &corev1.PersistentVolumeClaimSpec{} }},
		{"serviceTemplates", func() any { return &corev1.ServiceSpec{} }},
	}
	for _, e := range embedded {
		items, _ := Lookup(o.Map, "spec", "templates", e.list).([]any)
		for i, it := range items {
			spec := Lookup(it, "spec")
			if spec == nil {
				continue
			}
			if err := decodeValue(spec, e.new()); err != nil {
				errs = append(errs, fmt.Errorf("spec.templates.%s[%d].spec: %w", e.list, i, err))
			}
		}
	}
	return errs
}

func decodeValue(v any, into any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return DecodeStrict(js, into)
}

// Lookup walks nested maps by key and returns the value found, or nil.
func Lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
