package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// KernelSignalVerdicts are the per-pod verdicts of what the kernel did with
// the stop signal: the ones two runs of the same specs should agree on.
var KernelSignalVerdicts = []string{check.NameSignalDelivered, check.NameSigtermDropped, check.NameKilledBySIGKILL}

// PodKey names a pod the same way in two runs, whose pod names are random:
// its scenario, its service, and its place among that service's pods in the
// order their end began (deletion requested, or a container's first end).
type PodKey struct {
	Scenario, Service string
	N                 int
}

func (k PodKey) String() string { return fmt.Sprintf("%s %s #%d", k.Scenario, k.Service, k.N+1) }

// Difference is one verdict of one pod that two runs disagree on, with each
// run's shutdown window beside it (what explains a different outcome).
type Difference struct {
	Pod              PodKey
	Verdict          string
	A, B             check.Verdict
	WindowA, WindowB check.Verdict
}

// Comparison is the result of Compare.
type Comparison struct {
	// Compared counts the (pod, verdict) pairs both runs have, of Pods
	// pods both runs judged.
	Compared, Pods int
	// OnlyA and OnlyB list pods one run judged and the other did not.
	OnlyA, OnlyB []PodKey
	Differences  []Difference
}

// Compare sets the per-pod verdicts names of report folders a and b side by
// side, pod by pod (PodKey), from their saved verdicts.json and timelines;
// with recompute, from verdicts the current checks recompute from the
// timelines (reports written by older checks compare like new ones).
func Compare(a, b string, names []string, recompute bool) (Comparison, error) {
	va, err := podVerdicts(a, recompute)
	if err != nil {
		return Comparison{}, err
	}
	vb, err := podVerdicts(b, recompute)
	if err != nil {
		return Comparison{}, err
	}
	var c Comparison
	for _, k := range slices.SortedFunc(maps.Keys(va), comparePodKeys) {
		pb, ok := vb[k]
		if !ok {
			c.OnlyA = append(c.OnlyA, k)
			continue
		}
		pa := va[k]
		c.Pods++
		for _, name := range names {
			x, okA := pa[name]
			y, okB := pb[name]
			if !okA || !okB {
				continue
			}
			c.Compared++
			if x.Value != y.Value {
				c.Differences = append(c.Differences, Difference{Pod: k, Verdict: name, A: x, B: y,
					WindowA: pa[check.NameShutdownWindow], WindowB: pb[check.NameShutdownWindow]})
			}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(vb), comparePodKeys) {
		if _, ok := va[k]; !ok {
			c.OnlyB = append(c.OnlyB, k)
		}
	}
	return c, nil
}

func comparePodKeys(x, y PodKey) int {
	return cmp.Or(cmp.Compare(x.Scenario, y.Scenario), cmp.Compare(x.Service, y.Service), cmp.Compare(x.N, y.N))
}

// podVerdicts reads dir's verdicts about pods (saved, or recomputed),
// keyed by PodKey and verdict name.
func podVerdicts(dir string, recompute bool) (map[PodKey]map[string]check.Verdict, error) {
	run, tl, err := Load(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var saved []check.Verdict
	if recompute {
		saved = Verdicts(run, tl)
	} else {
		b, err := os.ReadFile(filepath.Join(dir, VerdictsFile))
		if err != nil {
			return nil, fmt.Errorf("read saved verdicts: %w", err)
		}
		if err := json.Unmarshal(b, &saved); err != nil {
			return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, VerdictsFile), err)
		}
	}
	keys := podKeys(tl)
	out := map[PodKey]map[string]check.Verdict{}
	for _, v := range saved {
		k, ok := keys[[2]string{v.Scenario, v.Subject}]
		if !ok {
			continue // a scenario-wide verdict, or not about a pod
		}
		if out[k] == nil {
			out[k] = map[string]check.Verdict{}
		}
		out[k][v.Name] = v
	}
	return out, nil
}

// podKeys numbers each service's pods by when their end began: deletion
// requested, or their container's first end (pods that never ended come
// last, by when first seen).
func podKeys(tl timeline.Timeline) map[[2]string]PodKey {
	type pod struct {
		scenario, service, name string
		first, deleted          time.Duration
	}
	pods := map[[2]string]*pod{}
	var order []*pod
	for _, e := range tl.Events {
		if e.Pod == "" || e.Service == "" || e.Role != "" {
			continue
		}
		id := [2]string{e.Scenario, e.Pod}
		p := pods[id]
		if p == nil {
			p = &pod{scenario: e.Scenario, service: e.Service, name: e.Pod, first: e.At, deleted: -1}
			pods[id] = p
			order = append(order, p)
		}
		// The end of its life begins with its deletion, or with its
		// container's first end (a SIGKILL on the node).
		if e.Source == timeline.SourcePod && (e.Kind == timeline.PodDeletionRequested || e.Kind == timeline.PodContainerTerminated) && p.deleted < 0 {
			p.deleted = e.At
		}
	}
	at := func(p *pod) time.Duration {
		if p.deleted >= 0 {
			return p.deleted
		}
		return 1<<62 + p.first
	}
	slices.SortStableFunc(order, func(x, y *pod) int {
		return cmp.Or(cmp.Compare(at(x), at(y)), cmp.Compare(x.name, y.name))
	})
	n := map[[2]string]int{}
	keys := map[[2]string]PodKey{}
	for _, p := range order {
		svc := [2]string{p.scenario, p.service}
		keys[[2]string{p.scenario, p.name}] = PodKey{Scenario: p.scenario, Service: p.service, N: n[svc]}
		n[svc]++
	}
	return keys
}
