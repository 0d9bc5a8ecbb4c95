package workload

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
	"github.com/kubegrace/kubegrace/harness/labels"
)

func TestDeploymentForEveryVariant(t *testing.T) {
	for _, v := range entrypoints.All() {
		d, err := Deployment("ns", Service{Name: "orders", Entrypoint: v.Name, GraceSeconds: 30, PreStopSleepSeconds: 5,
			CheckInterval: time.Second, Identity: "header", DrainDelay: time.Second}, "img", "consul:8500")
		if err != nil {
			t.Fatal(err)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if strings.Join(c.Command, " ") != strings.Join(v.Argv(entrypoints.DefaultLayout), " ") {
			t.Errorf("%s: command %v", v.Name, c.Command)
		}
		if *d.Spec.Template.Spec.TerminationGracePeriodSeconds != 30 || c.Lifecycle.PreStop.Exec.Command[1] != "5" {
			t.Errorf("%s: grace/preStop not set", v.Name)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
			if e.Name == "FIXTURE_ADVERTISE_ADDR" && e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
				t.Errorf("advertise address must be the pod IP")
			}
		}
		if env["FIXTURE_IDENTITY_CHECK"] != "header" || env["FIXTURE_CHECK_INTERVAL"] != "1s" || env["FIXTURE_SERVICE_NAME"] != "orders" {
			t.Errorf("%s: env %v", v.Name, env)
		}
	}
}

func TestDeploymentUnknownEntrypoint(t *testing.T) {
	_, err := Deployment("ns", Service{Name: "orders", Entrypoint: "java-jar"}, "img", "c")
	if err == nil || !strings.Contains(err.Error(), "java-jar") {
		t.Errorf("got %v", err)
	}
}

// The pod contract the IP reuse fault relies on: a service's Deployment
// (fixture or an image of the user's own) selects by the service label
// and part-of, so a pod that carries only the service label (the reusing
// pod) is never adopted by its ReplicaSet.
func TestDeploymentsDoNotAdoptAPodWithOnlyTheServiceLabel(t *testing.T) {
	fixture, err := Deployment("ns", Service{Name: "orders", Entrypoint: entrypoints.All()[0].Name, GraceSeconds: 30}, "img", "consul:8500")
	if err != nil {
		t.Fatal(err)
	}
	own, err := Deployment("ns", Service{Name: "orders", Image: "example/app:1", GraceSeconds: 30, Port: 8080, HealthPath: "/health"}, "", "consul:8500")
	if err != nil {
		t.Fatal(err)
	}
	taker := k8slabels.Set{ServiceLabel: "orders"}
	for _, d := range []*appsv1.Deployment{fixture, own} {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Matches(taker) {
			t.Errorf("deployment %s (image %q) selects a pod with only the service label: its ReplicaSet would adopt the reusing pod", d.Name, d.Spec.Template.Spec.Containers[0].Image)
		}
		if !sel.Matches(k8slabels.Set(d.Spec.Template.Labels)) || d.Spec.Template.Labels[labels.PartOfKey] != labels.PartOfValue {
			t.Errorf("deployment %s: template labels %v", d.Name, d.Spec.Template.Labels)
		}
	}
}
