package fault

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"

	"github.com/kubegrace/kubegrace/harness/poll"
)

// RollingUpdate restarts a service's Deployment (a new template
// annotation, as `kubectl rollout restart` does) with the given strategy and
// waits until the rollout is complete. Old pods may still be terminating
// then: that is where the scenario's observation goes on.
type RollingUpdate struct {
	Service                  string
	MaxSurge, MaxUnavailable *int32
}

func (f RollingUpdate) Name() string { return "rolling update of " + f.Service }

func (f RollingUpdate) Needs() Needs { return Needs{} }

func (f RollingUpdate) Inject(ctx context.Context, env *Env) (Outcome, error) {
	deps := env.Clientset.AppsV1().Deployments(env.Namespace)
	ru := &appsv1.RollingUpdateDeployment{}
	if f.MaxSurge != nil {
		v := intstr.FromInt32(*f.MaxSurge)
		ru.MaxSurge = &v
	}
	if f.MaxUnavailable != nil {
		v := intstr.FromInt32(*f.MaxUnavailable)
		ru.MaxUnavailable = &v
	}
	// Read, change, write, again if the Deployment changed in between:
	// its controller writes its status at any time (a conflict failed a CI
	// run with four scenarios at once).
	var d *appsv1.Deployment
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := deps.Get(ctx, f.Service, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get deployment %s: %w", f.Service, err)
		}
		cur.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: ru}
		if cur.Spec.Template.Annotations == nil {
			cur.Spec.Template.Annotations = map[string]string{}
		}
		cur.Spec.Template.Annotations["kubegrace.io/restartedAt"] = time.Now().UTC().Format(time.RFC3339Nano)
		d, err = deps.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("restart deployment %s: %w", f.Service, err)
	}
	err = poll.Until(ctx, "rollout of "+f.Service+" complete", poll.Steady, poll.RolloutComplete(env.Clientset, env.Namespace, f.Service, d.Generation))
	return Outcome{Detail: fmt.Sprintf("maxSurge %s, maxUnavailable %s", intOr(f.MaxSurge, "25%"), intOr(f.MaxUnavailable, "25%"))}, err
}

func intOr(p *int32, def string) string {
	if p == nil {
		return def
	}
	return fmt.Sprint(*p)
}
