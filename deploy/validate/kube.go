package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	ktypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// K8sSummary: the objects the kustomization renders, and what the workers' pods are told.
type K8sSummary struct {
	Objects []string        `json:"objects"`
	Workers []WorkerSummary `json:"workers"`
}

type WorkerSummary struct {
	StatefulSet    string                  `json:"statefulset"`
	Container      string                  `json:"container"`
	ContainerPorts map[string]int32        `json:"container_ports"`
	Probes         map[string]ProbeSummary `json:"probes"`
	// Env: every variable the container gets, from env and from envFrom ConfigMaps, with
	// the value when it is a literal (ConfigMap data or env value).
	Env map[string]string `json:"env"`
}

type ProbeSummary struct {
	Path string `json:"path"`
	Port int32  `json:"port"`
}

var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

// strict decodes YAML into the registered Go type for its apiVersion/kind; unknown fields,
// duplicate fields and unregistered kinds are errors.
var strict = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

func checkK8s(dir string, errs *problems) K8sSummary {
	sum := K8sSummary{Objects: []string{}, Workers: []WorkerSummary{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		errs.add("k8s: %v", err)
		return sum
	}
	var manifests []string
	kustomization := ""
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if name == "kustomization.yaml" || name == "kustomization.yml" {
			kustomization = name
			continue
		}
		manifests = append(manifests, name)
	}
	if kustomization == "" {
		errs.add("k8s: %s has no kustomization.yaml", dir)
		return sum
	}

	// 1. Each file on its own, as written.
	fromFiles := map[string]string{} // Kind/name -> file
	for _, name := range manifests {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			errs.add("k8s: %v", err)
			continue
		}
		objs, err := decodeAll(data)
		if err != nil {
			errs.add("k8s: %s: %v", name, err)
			continue
		}
		if len(objs) == 0 {
			errs.add("k8s: %s: no objects", name)
		}
		for _, o := range objs {
			if ns := o.GetNamespace(); ns != "" {
				errs.add("k8s: %s: %s sets namespace %q; the manifests are namespace-agnostic",
					name, key(o), ns)
			}
			if prev, dup := fromFiles[key(o)]; dup {
				errs.add("k8s: %s: %s is also defined in %s", name, key(o), prev)
			}
			fromFiles[key(o)] = name
		}
	}

	// 2. The kustomization: strictly decoded, it lists every manifest, and it builds.
	kdata, err := os.ReadFile(filepath.Join(dir, kustomization))
	if err != nil {
		errs.add("k8s: %v", err)
		return sum
	}
	var k ktypes.Kustomization
	if err := strictYAML(kdata, &k); err != nil {
		errs.add("k8s: %s: %v", kustomization, err)
		return sum
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[filepath.Clean(r)] = true
	}
	for _, name := range manifests {
		if !listed[name] {
			errs.add("k8s: %s is not in %s resources: it would never be applied", name,
				kustomization)
		}
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		errs.add("k8s: kustomize build %s: %v", dir, err)
		return sum
	}
	rendered, err := resMap.AsYaml()
	if err != nil {
		errs.add("k8s: kustomize build %s: %v", dir, err)
		return sum
	}
	objs, err := decodeAll(rendered)
	if err != nil {
		errs.add("k8s: kustomize build output: %v", err)
		return sum
	}
	for _, o := range objs {
		sum.Objects = append(sum.Objects, key(o))
	}
	sort.Strings(sum.Objects)

	// 3. References between the rendered objects.
	sum.Workers = crossCheck(objs, errs)
	return sum
}

type object interface {
	runtime.Object
	metav1.Object
}

func key(o object) string {
	return o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetName()
}

func strictYAML(data []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(data) // duplicate keys
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, into) // unknown fields, case-sensitive
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return errors.Join(strictErrs...)
	}
	return nil
}

// decodeAll splits a multi-document YAML stream and decodes each document strictly.
func decodeAll(data []byte) ([]object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []object
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if isEmptyDoc(doc) {
			continue
		}
		obj, gvk, err := strict.Decode(doc, nil, nil)
		if err != nil {
			what := fmt.Sprintf("document %d", i)
			if gvk != nil && gvk.Kind != "" {
				what += " (" + gvk.Kind + ")"
			}
			return out, fmt.Errorf("%s: %w", what, err)
		}
		o, ok := obj.(object)
		if !ok {
			return out, fmt.Errorf("document %d: %T has no metadata", i, obj)
		}
		if o.GetName() == "" {
			return out, fmt.Errorf("document %d: %s without metadata.name", i, gvk.Kind)
		}
		out = append(out, o)
	}
}

func isEmptyDoc(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			return false
		}
	}
	return true
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func crossCheck(objs []object, errs *problems) []WorkerSummary {
	var (
		sets      []*appsv1.StatefulSet
		services  []*corev1.Service
		pdbs      []*policyv1.PodDisruptionBudget
		monitors  []*monitoringv1.ServiceMonitor
		configMap = map[string]*corev1.ConfigMap{}
		secrets   = map[string]bool{}
	)
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.StatefulSet:
			sets = append(sets, v)
		case *corev1.Service:
			services = append(services, v)
		case *policyv1.PodDisruptionBudget:
			pdbs = append(pdbs, v)
		case *monitoringv1.ServiceMonitor:
			monitors = append(monitors, v)
		case *corev1.ConfigMap:
			configMap[v.Name] = v
		case *corev1.Secret:
			secrets[v.Name] = true
		}
	}
	type pod struct {
		owner  string
		labels labels.Set
		spec   *corev1.PodSpec
	}
	var pods []pod
	var workers []WorkerSummary

	for _, s := range sets {
		where := "StatefulSet/" + s.Name
		podLabels := labels.Set(s.Spec.Template.Labels)
		pods = append(pods, pod{where, podLabels, &s.Spec.Template.Spec})
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil || s.Spec.Selector == nil || sel.Empty() {
			errs.add("k8s: %s: missing or invalid selector: %v", where, err)
		} else if !sel.Matches(podLabels) {
			errs.add("k8s: %s: selector %s does not match its pod template labels", where, sel)
		}
		var headless *corev1.Service
		for _, svc := range services {
			if svc.Name == s.Spec.ServiceName {
				headless = svc
			}
		}
		switch {
		case headless == nil:
			errs.add("k8s: %s: serviceName %q is not a Service here", where, s.Spec.ServiceName)
		case headless.Spec.ClusterIP != corev1.ClusterIPNone:
			errs.add("k8s: %s: Service %s must be headless (clusterIP: None)", where, headless.Name)
		}
		volumes := map[string]bool{}
		for _, v := range s.Spec.Template.Spec.Volumes {
			volumes[v.Name] = true
		}
		for _, c := range s.Spec.VolumeClaimTemplates {
			if volumes[c.Name] {
				errs.add("k8s: %s: volume %s is both a pod volume and a claim template", where, c.Name)
			}
			volumes[c.Name] = true
		}
		spec := &s.Spec.Template.Spec
		all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
		for _, c := range all {
			cw := where + " container " + c.Name
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					errs.add("k8s: %s: volumeMount %s has no volume", cw, m.Name)
				}
			}
			env := checkEnv(cw, c, configMap, secrets, errs)
			ports := map[string]int32{}
			for _, p := range c.Ports {
				if p.Name != "" {
					ports[p.Name] = p.ContainerPort
				}
			}
			probes := map[string]ProbeSummary{}
			for kind, p := range map[string]*corev1.Probe{
				"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe,
			} {
				if p == nil || p.HTTPGet == nil {
					continue
				}
				port, ok := resolvePort(p.HTTPGet.Port.String(), c.Ports)
				if !ok {
					errs.add("k8s: %s: %s probe port %s is not a port of the container", cw, kind,
						p.HTTPGet.Port.String())
				}
				probes[kind] = ProbeSummary{Path: p.HTTPGet.Path, Port: port}
			}
			if len(c.Ports) > 0 && !isInit(c.Name, spec.InitContainers) {
				workers = append(workers, WorkerSummary{StatefulSet: s.Name, Container: c.Name,
					ContainerPorts: ports, Probes: probes, Env: env})
			}
		}
	}

	podFor := func(sel labels.Selector) *pod {
		for i := range pods {
			if sel.Matches(pods[i].labels) {
				return &pods[i]
			}
		}
		return nil
	}
	for _, svc := range services {
		where := "Service/" + svc.Name
		if len(svc.Spec.Selector) == 0 {
			errs.add("k8s: %s: no selector", where)
			continue
		}
		p := podFor(labels.SelectorFromSet(svc.Spec.Selector))
		if p == nil {
			errs.add("k8s: %s: selector %v matches no pod template", where, svc.Spec.Selector)
			continue
		}
		for _, sp := range svc.Spec.Ports {
			tp := sp.TargetPort.String()
			if sp.TargetPort.IntValue() == 0 && tp == "0" {
				tp = fmt.Sprint(sp.Port)
			}
			found := false
			for _, c := range p.spec.Containers {
				if _, ok := resolvePort(tp, c.Ports); ok {
					found = true
				}
			}
			if !found {
				errs.add("k8s: %s: port %s targets %s, which no container of %s exposes",
					where, sp.Name, tp, p.owner)
			}
		}
	}
	for _, pdb := range pdbs {
		where := "PodDisruptionBudget/" + pdb.Name
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || pdb.Spec.Selector == nil || sel.Empty() {
			errs.add("k8s: %s: missing or invalid selector", where)
		} else if podFor(sel) == nil {
			errs.add("k8s: %s: selector %s matches no pod template", where, sel)
		}
	}
	for _, m := range monitors {
		where := "ServiceMonitor/" + m.Name
		sel, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
		if err != nil || sel.Empty() {
			errs.add("k8s: %s: missing or invalid selector", where)
			continue
		}
		var matched []*corev1.Service
		for _, svc := range services {
			if sel.Matches(labels.Set(svc.Labels)) {
				matched = append(matched, svc)
			}
		}
		if len(matched) == 0 {
			errs.add("k8s: %s: selector %s matches no Service", where, sel)
		}
		if len(matched) > 1 {
			errs.add("k8s: %s: selector %s matches %d Services: pods would be scraped more "+
				"than once", where, sel, len(matched))
		}
		if len(m.Spec.Endpoints) == 0 {
			errs.add("k8s: %s: no endpoints", where)
		}
		for _, ep := range m.Spec.Endpoints {
			for _, svc := range matched {
				ok := false
				for _, sp := range svc.Spec.Ports {
					ok = ok || (ep.Port != "" && sp.Name == ep.Port)
				}
				if !ok {
					errs.add("k8s: %s: endpoint port %v is not a named port of Service %s",
						where, ep.Port, svc.Name)
				}
			}
		}
	}
	return workers
}

func isInit(name string, inits []corev1.Container) bool {
	for _, c := range inits {
		if c.Name == name {
			return true
		}
	}
	return false
}

func resolvePort(port string, ports []corev1.ContainerPort) (int32, bool) {
	for _, p := range ports {
		if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// checkEnv: ConfigMaps and keys exist (unless optional), Secrets not shipped here are
// optional, and every $(VAR) in a value names a variable defined before it (Kubernetes
// leaves an unknown reference as literal text). Returns the container's environment.
func checkEnv(where string, c corev1.Container, cms map[string]*corev1.ConfigMap,
	secrets map[string]bool, errs *problems) map[string]string {
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := cms[ef.ConfigMapRef.Name]
			if !ok {
				if ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional {
					errs.add("k8s: %s: envFrom ConfigMap %s is not here", where, ef.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		case ef.SecretRef != nil:
			if !secrets[ef.SecretRef.Name] && (ef.SecretRef.Optional == nil || !*ef.SecretRef.Optional) {
				errs.add("k8s: %s: envFrom Secret %s is not here and not optional", where,
					ef.SecretRef.Name)
			}
		}
	}
	for _, e := range c.Env {
		for _, m := range varRef.FindAllStringSubmatch(e.Value, -1) {
			if _, ok := env[m[1]]; !ok {
				errs.add("k8s: %s: env %s refers to $(%s), which is not defined before it",
					where, e.Name, m[1])
			}
		}
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := cms[ref.Name]
			has := false
			if ok {
				_, has = cm.Data[ref.Key]
			}
			if !has && (ref.Optional == nil || !*ref.Optional) {
				errs.add("k8s: %s: env %s: ConfigMap %s key %s is not here", where, e.Name,
					ref.Name, ref.Key)
			}
			if has {
				env[e.Name] = cm.Data[ref.Key]
			}
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			if !secrets[ref.Name] && (ref.Optional == nil || !*ref.Optional) {
				errs.add("k8s: %s: env %s: Secret %s is not here and not optional", where,
					e.Name, ref.Name)
			}
			env[e.Name] = ""
		default:
			env[e.Name] = "" // fieldRef / resourceFieldRef: known at run time
		}
	}
	return env
}
