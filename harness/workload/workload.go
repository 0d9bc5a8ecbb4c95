// Package workload turns a fixture service description into the Kubernetes
// objects a scenario deploys: a Deployment of the fixture image started by
// one of the entrypoint variants, registering itself in Consul the way a
// Spring Cloud Consul service does, and caller Deployments that send traffic
// through Consul.
package workload

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
	"github.com/kubegrace/kubegrace/harness/labels"
)

// The defaults a service gets where its spec says nothing: Kubernetes'
// own grace period, and the port and health path every Spring Boot
// service shared in the incident (the fixture's own defaults, in
// fixtures/app, are the same).
const (
	DefaultGrace        = 30 * time.Second
	DefaultPort         = 8080
	DefaultHealthPath   = "/actuator/health"
	DefaultCallInterval = 100 * time.Millisecond
)

// ServiceLabel is the pod label naming the fixture service a pod belongs
// to; the pod observer attributes IP ownership by it, faults find their
// pods by it.
const ServiceLabel = "kubegrace.io/service"

// AppContainer is the name of the app's container in every pod.
const AppContainer = "app"

// Service describes one fixture service as a scenario wants it.
type Service struct {
	Name     string
	Replicas int32
	// Entrypoint is a variant name from fixtures/entrypoints.
	Entrypoint string
	// GraceSeconds is terminationGracePeriodSeconds.
	GraceSeconds int64
	// PreStopSleepSeconds > 0 adds a preStop hook that sleeps (exec sleep).
	PreStopSleepSeconds int64
	// CheckInterval of the Consul HTTP check (default 10s as Spring's).
	CheckInterval time.Duration
	// Identity is the fixture's identity-check mode: off, header or path.
	Identity string
	// DeregisterCriticalAfter sets the check's DeregisterCriticalServiceAfter.
	DeregisterCriticalAfter time.Duration
	// DrainDelay keeps the app serving after deregistration.
	DrainDelay time.Duration

	// Image, if set, runs this image of the user's own instead of the
	// fixture, with Command, Args, Env (values may use the placeholders of
	// RenderEnv) and Port / HealthPath for its readiness probe.
	Image         string
	Command, Args []string
	Env           map[string]string
	Port          int32
	HealthPath    string
	// Pull: the Image is in a registry the cluster pulls from; otherwise
	// it was loaded into the nodes and is never pulled.
	Pull bool
}

// Placeholders are what a user image's env values may use.
type Placeholders struct {
	ConsulHost, ConsulPort, ConsulAddr, PodIP string
}

// RenderEnv fills an env value's placeholders. An unknown placeholder is an
// error that lists the known ones.
func RenderEnv(value string, p Placeholders) (string, error) {
	t, err := template.New("env").Option("missingkey=error").Parse(value)
	if err != nil {
		return "", fmt.Errorf("%q: %w", value, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		return "", fmt.Errorf("%q: unknown placeholder (known: {{ .ConsulHost }}, {{ .ConsulPort }}, {{ .ConsulAddr }}, {{ .PodIP }})", value)
	}
	return b.String(), nil
}

// PodIPEnv is the variable every user image gets with its pod's address
// (the Downward API), which {{ .PodIP }} in env values refers to.
const PodIPEnv = "KUBEGRACE_POD_IP"

// Labels are the labels of a service's pods.
func Labels(service string) map[string]string {
	return labels.PartOf(ServiceLabel, service)
}

// Deployment returns the service's Deployment in namespace ns, running
// image, registering with Consul at consulAddr.
func Deployment(ns string, s Service, image, consulAddr string) (*appsv1.Deployment, error) {
	if s.Image != "" {
		return userDeployment(ns, s, consulAddr)
	}
	v, err := entrypoints.Lookup(s.Entrypoint)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", s.Name, err)
	}
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	env := []corev1.EnvVar{
		{Name: "FIXTURE_SERVICE_NAME", Value: s.Name},
		{Name: "FIXTURE_CONSUL_ADDR", Value: consulAddr},
		{Name: "FIXTURE_ADVERTISE_ADDR", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		// The Pod name: unique per pod, so every pod is its own instance.
		{Name: "FIXTURE_INSTANCE_ID_SCHEME", Value: "hostname"},
		{Name: "FIXTURE_APP", Value: entrypoints.DefaultLayout.App},
	}
	add := func(name, value string) { env = append(env, corev1.EnvVar{Name: name, Value: value}) }
	if s.CheckInterval > 0 {
		add("FIXTURE_CHECK_INTERVAL", s.CheckInterval.String())
		add("FIXTURE_CHECK_TIMEOUT", min(s.CheckInterval, 2*time.Second).String())
	}
	if s.Identity != "" {
		add("FIXTURE_IDENTITY_CHECK", s.Identity)
	}
	if s.DeregisterCriticalAfter > 0 {
		add("FIXTURE_DEREGISTER_CRITICAL_AFTER", s.DeregisterCriticalAfter.String())
	}
	if s.DrainDelay > 0 {
		add("FIXTURE_DRAIN_DELAY", s.DrainDelay.String())
	}
	c := corev1.Container{
		Name:            AppContainer,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         v.Argv(entrypoints.DefaultLayout),
		Env:             env,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: DefaultPort}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: DefaultHealthPath, Port: intstr.FromInt32(DefaultPort)}},
			PeriodSeconds: 1,
		},
	}
	return deployment(ns, s, c, map[string]string{"kubegrace.io/entrypoint": v.Name}), nil
}

// deployment wraps the app container c in the service's Deployment.
func deployment(ns string, s Service, c corev1.Container, annotations map[string]string) *appsv1.Deployment {
	if s.PreStopSleepSeconds > 0 {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{"sleep", strconv.FormatInt(s.PreStopSleepSeconds, 10)}},
		}}
	}
	grace := s.GraceSeconds
	labels := Labels(s.Name)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &s.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers:                    []corev1.Container{c},
				},
			},
		},
	}
}

func pullPolicy(pull bool) corev1.PullPolicy {
	if pull {
		return corev1.PullIfNotPresent
	}
	return corev1.PullNever
}

// userDeployment runs an image of the user's own: loaded into the cluster
// (never pulled) or pushed to a registry it pulls from, its env rendered with the scenario's Consul address and
// the pod's IP, ready when its port (or health path) answers.
func userDeployment(ns string, s Service, consulAddr string) (*appsv1.Deployment, error) {
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	port := s.Port
	if port == 0 {
		port = DefaultPort
	}
	host, cport, err := net.SplitHostPort(consulAddr)
	if err != nil {
		return nil, fmt.Errorf("service %s: consul address %q: %w", s.Name, consulAddr, err)
	}
	ph := Placeholders{ConsulHost: host, ConsulPort: cport, ConsulAddr: consulAddr, PodIP: "$(" + PodIPEnv + ")"}
	env := []corev1.EnvVar{{Name: PodIPEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		v, err := RenderEnv(s.Env[k], ph)
		if err != nil {
			return nil, fmt.Errorf("service %s: env %s: %w", s.Name, k, err)
		}
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	probe := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}}
	if s.HealthPath != "" {
		probe = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: s.HealthPath, Port: intstr.FromInt32(port)}}
	}
	c := corev1.Container{
		Name:            AppContainer,
		Image:           s.Image,
		ImagePullPolicy: pullPolicy(s.Pull),
		Command:         s.Command,
		Args:            s.Args,
		Env:             env,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: port}},
		ReadinessProbe:  &corev1.Probe{ProbeHandler: probe, PeriodSeconds: 1},
	}
	return deployment(ns, s, c, map[string]string{"kubegrace.io/image": s.Image}), nil
}

// Caller returns a Deployment of the fixture in caller mode, calling
// service through Consul every interval. Its pods carry no service label
// of their own, so they never count as holders of a service's IPs.
func Caller(ns, name, service, image, consulAddr string, interval time.Duration) *appsv1.Deployment {
	one := int32(1)
	zero := int64(0)
	labels := labels.PartOf("kubegrace.io/caller", name)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &zero,
					Containers: []corev1.Container{{
						Name:            AppContainer,
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{entrypoints.DefaultLayout.App, "caller"},
						Env: []corev1.EnvVar{
							{Name: "FIXTURE_CALL_SERVICE", Value: service},
							{Name: "FIXTURE_CALL_INTERVAL", Value: interval.String()},
							{Name: "FIXTURE_CONSUL_ADDR", Value: consulAddr},
						},
					}},
				},
			},
		},
	}
}
