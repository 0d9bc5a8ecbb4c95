package workload

import (
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
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
