package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// ComposeSummary: per service, its environment (null: passed through from the shell) and
// its published ports as host_ip:published->target.
type ComposeSummary struct {
	Services map[string]ComposeService `json:"services"`
}

type ComposeService struct {
	Environment map[string]*string `json:"environment"`
	Ports       []string           `json:"ports"`
}

// warningHook turns the loader's logrus warnings (an unset variable "defaulting to a blank
// string", an obsolete `version`, ...) into problems: `docker compose config` only prints them.
type warningHook struct {
	mu   sync.Mutex
	msgs []string
}

func (h *warningHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *warningHook) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, e.Message)
	return nil
}

func checkCompose(file, root string, errs *problems) ComposeSummary {
	sum := ComposeSummary{Services: map[string]ComposeService{}}
	hook := &warningHook{}
	logrus.AddHook(hook)
	logrus.SetOutput(io.Discard)

	// No OS environment and no .env file: the result must not depend on who runs it, so
	// every ${VAR} in the file needs a default (an unset one is reported below).
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(nil),
		cli.WithResolvedPaths(true),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		errs.add("compose: %v", err)
		return sum
	}
	project, err := opts.LoadProject(context.Background())
	for _, m := range hook.msgs {
		errs.add("compose: loader warning: %s", m)
	}
	if err != nil {
		errs.add("compose: %s: %v", rel(root, file), err)
		return sum
	}

	names := project.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		svc := project.Services[name]
		cs := ComposeService{Environment: map[string]*string(svc.Environment), Ports: []string{}}
		if cs.Environment == nil {
			cs.Environment = map[string]*string{}
		}

		if svc.Build != nil {
			ctxDir := svc.Build.Context
			mustExistInRepo(root, ctxDir, "service "+name+": build context", errs)
			df := svc.Build.Dockerfile
			if df != "" && !filepath.IsAbs(df) {
				df = filepath.Join(ctxDir, df)
			}
			if df != "" {
				mustExistInRepo(root, df, "service "+name+": Dockerfile", errs)
			}
		}
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeBind {
				mustExistInRepo(root, v.Source, "service "+name+": bind mount "+v.Target, errs)
			}
		}
		for _, p := range svc.Ports {
			cs.Ports = append(cs.Ports, p.HostIP+":"+p.Published+"->"+
				strconv.FormatUint(uint64(p.Target), 10))
			if p.Published != "" && p.HostIP != "127.0.0.1" {
				errs.add("compose: service %s publishes port %s on %q, not 127.0.0.1",
					name, p.Published, p.HostIP)
			}
		}
		for dep, cond := range svc.DependsOn {
			target, ok := project.Services[dep]
			if !ok {
				continue // the loader's consistency check reports it
			}
			switch cond.Condition {
			case types.ServiceConditionHealthy:
				hc := target.HealthCheck
				if hc == nil || hc.Disable || len(hc.Test) == 0 {
					errs.add("compose: service %s waits for %s to be healthy, but %s has no "+
						"healthcheck", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != types.RestartPolicyNo {
					errs.add("compose: service %s waits for %s to complete, but %s restarts (%s)",
						name, dep, dep, target.Restart)
				}
			}
		}
		sum.Services[name] = cs
	}
	return sum
}

// mustExistInRepo: path (absolute, resolved by the loader) is inside the repository and
// exists.
func mustExistInRepo(root, path, what string, errs *problems) {
	clean := filepath.Clean(path)
	r, err := filepath.Rel(root, clean)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		errs.add("compose: %s: %s is outside the repository", what, path)
		return
	}
	if _, err := os.Stat(clean); err != nil {
		errs.add("compose: %s: %s does not exist in the repository", what, r)
	}
}
