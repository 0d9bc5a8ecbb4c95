package fault

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Filler pods the API refuses to remove fail the fault, with the API's
// reason, even when the fault failed before (their removal is deferred):
// the next scenario on the node would otherwise find its pool full.
func TestIPReuseReportsFillersItCannotRemove(t *testing.T) {
	refused := errors.New("etcdserver: request timed out")
	filler := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ipfill-03", Namespace: "ns",
		Labels: map[string]string{timeline.RoleLabel: timeline.RoleIPFiller}}}
	newEnv := func(refuse bool) *Env {
		cs := fake.NewClientset(filler.DeepCopy())
		// removeFillers deletes by label selector (verb delete-collection),
		// which the fake's object tracker does not implement.
		cs.PrependReactor("delete-collection", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			sel := a.(k8stesting.DeleteCollectionAction).GetListRestrictions().Labels
			if !sel.Matches(k8slabels.Set(filler.Labels)) {
				return false, nil, nil
			}
			if refuse {
				return true, nil, refused
			}
			return true, nil, cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "ns", filler.Name)
		})
		return &Env{Clientset: cs, Namespace: "ns", Logf: t.Logf}
	}

	if err := (&reuse{env: newEnv(false)}).removeFillers(); err != nil {
		t.Fatalf("fillers the API removes: %v", err)
	}

	err := (&reuse{env: newEnv(true)}).removeFillers()
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "remove filler pods") {
		t.Errorf("removeFillers = %v; want the filler pods named and %q wrapped", err, refused)
	}

	// Through Inject: the victim is not found, and the fillers' error is
	// joined to that one, not dropped.
	_, err = IPReuse{Victim: "orders", By: "billing"}.Inject(context.Background(), newEnv(true))
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "remove filler pods") || !strings.Contains(err.Error(), "find the victim") {
		t.Errorf("Inject = %v; want the victim step's error and the fillers' (%q) both", err, refused)
	}
}
