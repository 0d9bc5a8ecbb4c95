package consul

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/e2e-framework/klient"

	"github.com/kubegrace/kubegrace/harness/labels"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// InCluster is a Consul server running in the cluster. Apps in pods reach
// it at ServiceAddr (cluster DNS); the harness process reaches it at Addr,
// the local end of a port-forward through the API server (Tunnel says why).
type InCluster struct {
	Namespace   string
	ServiceAddr string // consul.<ns>.svc.cluster.local:8500
	Addr        string // 127.0.0.1:<port>, Tunnel's local end
	Client      *api.Client
	Tunnel      *Tunnel
}

// Close ends the harness's tunnel to the server (the server itself goes
// with its namespace).
func (c *InCluster) Close() {
	if c != nil && c.Tunnel != nil {
		c.Tunnel.Close()
	}
}

// DeployOptions configure Deploy.
type DeployOptions struct {
	Namespace string // default "kubegrace-consul"
	Image     string // the project's Consul image (images.BuildProject)
	Timeout   time.Duration
	// NodeSelector pins the Consul pod (a scenario that has a node to
	// itself keeps everything there).
	NodeSelector map[string]string
}

// Deploy starts a single Consul server (dev mode: in-memory, its own
// leader) in its own namespace, exposes it to pods through a ClusterIP
// Service, forwards a local port to it through the API server once it is
// ready, and waits for the real readiness signal: a known leader, asked
// through that tunnel. The
// server runs every registered HTTP check from inside the cluster, as
// Consul agents do in the incident. Deleting the namespace removes it (a
// run deploys it into the scenario's own).
func Deploy(ctx context.Context, kc klient.Client, opts DeployOptions) (*InCluster, error) {
	if opts.Namespace == "" {
		opts.Namespace = "kubegrace-consul"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Image == "" {
		return nil, fmt.Errorf("deploy consul: no image given")
	}
	r := kc.Resources()
	labels := labels.PartOf("app.kubernetes.io/name", "consul")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opts.Namespace, Labels: labels}}
	if err := r.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create namespace %s: %w", opts.Namespace, err)
	}
	// The Service first: apps started alongside Consul resolve its name at
	// once, and a name looked up before it exists is cached as missing by
	// CoreDNS for 30 s.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "consul", Namespace: opts.Namespace, Labels: labels},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8500, TargetPort: intstr.FromInt32(8500)}},
		},
	}
	if err := r.Create(ctx, svc); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create consul service: %w", err)
	}
	one := int32(1)
	zero := int64(0)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "consul", Namespace: opts.Namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  opts.NodeSelector,
					TerminationGracePeriodSeconds: &zero,
					Containers: []corev1.Container{{
						Name:            "consul",
						Image:           opts.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            []string{"agent", "-dev", "-client", "0.0.0.0", "-log-level", "warn"},
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8500}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/v1/status/leader", Port: intstr.FromInt32(8500)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	if err := r.Create(ctx, dep); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create consul deployment: %w", err)
	}
	cs, err := kubernetes.NewForConfig(kc.RESTConfig())
	if err != nil {
		return nil, err
	}
	var pod string
	sel := k8slabels.SelectorFromSet(labels).String()
	if err := poll.Until(ctx, "consul pod ready in "+opts.Namespace, poll.Quick.For(opts.Timeout), poll.PodReady(cs, opts.Namespace, sel, &pod)); err != nil {
		return nil, fmt.Errorf("consul in namespace %s (image %s): %w", opts.Namespace, opts.Image, err)
	}
	t, err := Forward(ctx, kc.RESTConfig(), opts.Namespace, pod, 8500)
	if err != nil {
		return nil, err
	}
	ic := &InCluster{Namespace: opts.Namespace, ServiceAddr: ServiceAddr(opts.Namespace), Addr: t.Addr, Tunnel: t}
	cfg := api.DefaultConfig()
	cfg.Address = ic.Addr
	if ic.Client, err = api.NewClient(cfg); err != nil {
		ic.Close()
		return nil, fmt.Errorf("consul client for %s: %w", ic.Addr, err)
	}
	if err := WaitForLeader(ctx, ic.Client, opts.Timeout); err != nil {
		return ic, fmt.Errorf("consul in namespace %s (image %s), pod %s through the API server: %w", opts.Namespace, opts.Image, pod, err)
	}
	return ic, nil
}

// ServiceAddr is where pods reach the Consul that Deploy starts in ns; it
// is known before Deploy runs, so apps can be started alongside Consul.
func ServiceAddr(ns string) string { return fmt.Sprintf("consul.%s.svc.cluster.local:8500", ns) }
