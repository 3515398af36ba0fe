// Command validate checks the deployment files without Docker or a cluster:
//
//   - docker-compose.yml is loaded by compose-go (the loader behind `docker compose config`)
//     with schema validation, interpolation and consistency checks on, paths resolved against
//     the repository; any loader warning is an error. Then: every bind-mounted host path and
//     build context exists in the repository, every published port is bound to 127.0.0.1,
//     and every depends_on condition can be met (service_healthy needs a healthcheck,
//     service_completed_successfully a one-shot service).
//   - deploy/k8s: each manifest file is decoded strictly (unknown or duplicate fields are
//     errors) into the k8s.io/api types, and the ServiceMonitor into the prometheus-operator
//     Go types; the kustomization is built with kustomize's own library (krusty, as
//     `kubectl kustomize` does), must include every manifest file, and its output is decoded
//     strictly again; then references between the objects are checked (selectors, ports,
//     volumes, ConfigMaps, the headless Service of the StatefulSet).
//
// Run from the repository root: go run ./deploy/validate [-summary FILE]. Exit status 1 and
// one line per problem on failure. The summary (JSON) is what tests/deploy reads to compare
// the manifests with the worker's settings.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Summary is the part of the checked files that tests compare with the worker's settings.
type Summary struct {
	Compose ComposeSummary `json:"compose"`
	K8s     K8sSummary     `json:"k8s"`
}

// problems collects every error instead of stopping at the first.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func main() {
	repo := flag.String("repo", ".", "repository root: compose paths are resolved against it")
	compose := flag.String("compose", "", "compose file (default: REPO/docker-compose.yml)")
	k8sDir := flag.String("k8s", "", "manifest directory (default: REPO/deploy/k8s)")
	summary := flag.String("summary", "", "write a JSON summary of the checked files here")
	flag.Parse()

	root, err := filepath.Abs(*repo)
	if err != nil {
		fatal(err)
	}
	if *compose == "" {
		*compose = filepath.Join(root, "docker-compose.yml")
	}
	if *k8sDir == "" {
		*k8sDir = filepath.Join(root, "deploy", "k8s")
	}

	var errs problems
	var out Summary
	out.Compose = checkCompose(*compose, root, &errs)
	out.K8s = checkK8s(*k8sDir, &errs)

	if *summary != "" {
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			fatal(err)
		}
		if err := os.WriteFile(*summary, data, 0o644); err != nil {
			fatal(err)
		}
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "validate:", e)
		}
		fmt.Fprintf(os.Stderr, "validate: %d problem(s)\n", len(errs))
		os.Exit(1)
	}
	fmt.Printf("validate: OK: %s (%d services), %s (%d objects)\n",
		rel(root, *compose), len(out.Compose.Services), rel(root, *k8sDir), len(out.K8s.Objects))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "validate:", err)
	os.Exit(1)
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
