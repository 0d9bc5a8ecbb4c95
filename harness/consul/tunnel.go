package consul

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Tunnel forwards a local port to a pod's port through the API server (the
// pods/portforward subresource, as `kubectl port-forward` does). It is the
// one path to a pod that every cluster offers: a managed cluster's node
// addresses are private and its NodePorts firewalled from a laptop or a CI
// runner, but its API server answers.
//
// client-go's forwarder closes the whole connection when one forwarded
// connection fails (ErrLostConnectionToPod); the tunnel then forwards again
// on the same local port, so its address stays the one clients were given.
// Requests in between fail, and their callers record that as they would
// any outage.
type Tunnel struct {
	Addr string // 127.0.0.1:<port>, the local end
	Pod  string

	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	reforwards int
	lastErr    error
}

// Forward opens a tunnel from a free local port to port of pod ns/pod and
// returns once it listens.
func Forward(ctx context.Context, cfg *rest.Config, ns, pod string, port int) (*Tunnel, error) {
	dialer, err := podDialer(cfg, ns, pod)
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithCancel(context.Background())
	fw, errc, err := forwardOn(ctx, tctx, dialer, 0, port)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d through the API server: %w", ns, pod, port, err)
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %v", ns, pod, err)
	}
	local := int(ports[0].Local)
	t := &Tunnel{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(local)), Pod: pod, cancel: cancel, done: make(chan struct{})}
	go t.keep(tctx, dialer, errc, local, port)
	return t, nil
}

// keep forwards again whenever the forwarder ends before the tunnel is
// closed, waiting longer after each failure to re-open (up to a second).
func (t *Tunnel) keep(ctx context.Context, dialer httpstream.Dialer, errc <-chan error, local, port int) {
	defer close(t.done)
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-errc:
			t.mu.Lock()
			t.lastErr = err
			t.mu.Unlock()
		}
		for {
			var err error
			if _, errc, err = forwardOn(ctx, ctx, dialer, local, port); err == nil {
				t.mu.Lock()
				t.reforwards++
				t.mu.Unlock()
				backoff = 50 * time.Millisecond
				break
			}
			t.mu.Lock()
			t.lastErr = err
			t.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
}

// Reforwards is how often the tunnel was opened again after it broke, and
// the last error that broke it or kept it from re-opening.
func (t *Tunnel) Reforwards() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reforwards, t.lastErr
}

// Close ends the tunnel and waits for its forwarder to stop listening.
func (t *Tunnel) Close() {
	t.cancel()
	<-t.done
}

// forwardOn starts a forwarder on local (0: any free port) that lives until
// life ends, and returns once it listens (or ready ends first). errc gets
// the forwarder's end.
func forwardOn(ready, life context.Context, dialer httpstream.Dialer, local, port int) (*portforward.PortForwarder, <-chan error, error) {
	readyc := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("%d:%d", local, port)}, life.Done(), readyc, io.Discard, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	errc := make(chan error, 1)
	go func() {
		err := fw.ForwardPorts()
		if err == nil {
			err = errors.New("forwarder stopped")
		}
		errc <- err
	}()
	select {
	case <-readyc:
		return fw, errc, nil
	case err := <-errc:
		return nil, nil, err
	case <-ready.Done():
		return nil, nil, context.Cause(ready)
	}
}

// podDialer dials the pod's portforward subresource as kubectl does:
// WebSocket first (Kubernetes 1.31 and later), SPDY when the server or a
// proxy on the way does not upgrade to it.
func podDialer(cfg *rest.Config, ns, pod string) (httpstream.Dialer, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	tr, up, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	viaSPDY := spdy.NewDialer(up, &http.Client{Transport: tr}, http.MethodPost, u)
	viaWS, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialer(viaWS, viaSPDY, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}
