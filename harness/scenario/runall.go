package scenario

import (
	"context"
	"encoding/json"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/reports"
)

// RunAll runs specs on one cluster: scenarios that can share a node run
// side by side (at most parallel at once, each in its own namespace with
// its own Consul); exclusive ones (IP reuse fills a node's address pool) run
// alone, one after another. Results come back in spec order.
func (r *Runner) RunAll(ctx context.Context, specs []Spec, parallel int, rec *timeline.Recorder) []Result {
	if parallel < 1 {
		parallel = 1
	}
	results := make([]Result, len(specs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, s := range specs {
		if s.Exclusive {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = r.Run(ctx, s, rec)
		}()
	}
	wg.Wait()
	for i, s := range specs {
		if s.Exclusive {
			results[i] = r.Run(ctx, s, rec)
		}
	}
	return results
}

// Judge evaluates a spec's expectations against the verdicts. A subject
// may be a glob ("orders-*" for every pod of orders; "*" for every subject).
func Judge(spec Spec, verdicts []check.Verdict) []reports.Expectation {
	var out []reports.Expectation
	for _, e := range spec.Expect {
		vs, subject := verdicts, e.Subject
		if e.Subject != "" && e.Subject != "*" {
			vs = nil
			for _, v := range verdicts {
				if ok, _ := path.Match(e.Subject, v.Subject); ok && v.Scenario == spec.Name && v.Name == e.Verdict {
					vs = append(vs, v)
				}
			}
			subject = "*"
		}
		j := reports.Judge(vs, spec.Name, e.Verdict, subject, e.Op, e.Value, e.Why)
		j.Subject = e.Subject
		out = append(out, j)
	}
	return out
}

// Meta is what a report says about the run beyond its results.
type Meta struct {
	HarnessVersion, HarnessCommit  string
	KindVersion, KubernetesVersion string
	ConsulVersion, KindConfig      string
	Images                         map[string]string
	Seed                           int64
	Started                        time.Time
}

// BuildReport assembles a report's Run, timeline and verdicts from results:
// verdicts are computed from the timeline (so `report check` reproduces
// them), expectations judged, phase timings kept.
func BuildReport(meta Meta, results []Result, tl timeline.Timeline) (reports.Run, []check.Verdict) {
	run := reports.Run{
		HarnessVersion: meta.HarnessVersion, HarnessCommit: meta.HarnessCommit,
		KindVersion: meta.KindVersion, KubernetesVersion: meta.KubernetesVersion, ConsulVersion: meta.ConsulVersion,
		Images: meta.Images, KindConfig: meta.KindConfig, Seed: meta.Seed,
		Started: meta.Started, Finished: time.Now(),
		CheckContexts: map[string]check.Context{},
		Timings:       map[string]reports.Timing{},
	}
	var errs []string
	for _, res := range results {
		raw, _ := json.Marshal(res.Spec)
		run.Scenarios = append(run.Scenarios, raw)
		run.CheckContexts[res.Spec.Name] = res.Context
		p := res.Phases
		run.Timings[res.Spec.Name] = reports.NewTiming(p.Setup, p.Faults, p.Drain, p.Settle, p.Teardown, p.Total)
		if res.Err != nil {
			errs = append(errs, res.Spec.Name+": "+res.Err.Error())
		}
	}
	if len(errs) > 0 {
		run.Error = strings.Join(errs, "\n")
	}
	verdicts := reports.Verdicts(run, tl)
	for _, res := range results {
		run.Expectations = append(run.Expectations, Judge(res.Spec, verdicts)...)
	}
	return run, verdicts
}
