package nodeaccess

import (
	"context"
	"strings"
	"testing"
)

// scripted answers each exec with the next of outs (the last one again
// when they run out) and counts the calls.
func scripted(outs ...string) (*Pods, *int) {
	calls := 0
	p := &Pods{pods: map[string]string{"node-1": "access-1"}}
	p.stream = func(_ context.Context, pod string, argv []string) (string, error) {
		out := outs[min(calls, len(outs)-1)]
		calls++
		return out, nil
	}
	return p, &calls
}

func TestExecRunsAgainWhenTheStreamEndsEarly(t *testing.T) {
	p, calls := scripted("", "held", "held\n"+exitMark+"0\n")
	out, err := p.Exec(context.Background(), "node-1", "sh", "-c", "true")
	if err != nil || out != "held" || *calls != 3 {
		t.Fatalf("out %q err %v after %d calls; want the third stream's output", out, err, *calls)
	}
}

func TestExecGivesUpAfterFiveCutStreams(t *testing.T) {
	p, calls := scripted("")
	_, err := p.Exec(context.Background(), "node-1", "true")
	if err == nil || !strings.Contains(err.Error(), "ended before the command did") || *calls != 5 {
		t.Fatalf("err %v after %d calls; want the cut stream named after 5", err, *calls)
	}
}

func TestExecSaysTheCommandsExitStatus(t *testing.T) {
	p, _ := scripted("no such file\n" + exitMark + "2\n")
	_, err := p.Exec(context.Background(), "node-1", "cat", "/x")
	if err == nil || !strings.Contains(err.Error(), "exit status 2: no such file") || !strings.Contains(err.Error(), "node-1") {
		t.Fatalf("err %v", err)
	}
}
