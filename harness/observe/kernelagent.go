package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// AgentLine is one line of a kernel agent's stream (JSON): first Ready or
// Error, then events of pods' processes and, when the trace buffer
// overran, its lost count.
type AgentLine struct {
	Ready bool   `json:"ready,omitempty"`
	Error string `json:"error,omitempty"`
	// UID is the pod of the process the event is about; At when the
	// kernel saw it (the node's clock).
	UID   string          `json:"uid,omitempty"`
	At    time.Time       `json:"at,omitzero"`
	Event *timeline.Event `json:"event,omitempty"`
	// Lost is the trace buffer's overrun count so far.
	Lost uint64 `json:"lost,omitempty"`
}

// RunAgent is the kernel agent (kubegrace kernel-agent) on a node: it opens
// a tracer there, runs the kernel observer with its events written to out
// as AgentLines, and closes the tracer on SIGTERM or SIGINT. Where the
// kernel cannot be traced it writes an Error line and waits to be stopped,
// so the harness reads why rather than a crash loop.
func RunAgent(procRoot string, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	write := func(l AgentLine) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
	}
	tr, err := kernel.Open(kernel.Options{Name: fmt.Sprintf("kubegrace-agent-%d", os.Getpid())})
	if err != nil {
		write(AgentLine{Error: err.Error()})
		<-ctx.Done()
		return nil
	}
	k := &Kernel{Tracer: tr, ProcRoot: procRoot,
		Out:     func(uid string, at time.Time, e timeline.Event) { write(AgentLine{UID: uid, At: at, Event: &e}) },
		OutLost: func(lost uint64) { write(AgentLine{Lost: lost}) }}
	write(AgentLine{Ready: true})
	set := Start(ctx, k)
	<-ctx.Done()
	err = set.Stop()
	if cerr := tr.Close(); err == nil {
		err = cerr
	}
	return err
}

// Feed reads one agent's stream (node names it in messages) into k: its
// events through the index, its lost counts as gaps. The first line says
// whether the agent runs: ready returns nil, an error line returns the
// error; Feed then goes on reading until r ends.
func (k *Kernel) Feed(r io.Reader, node string, first chan<- error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	answered := false
	answer := func(err error) {
		if !answered {
			answered = true
			first <- err
		}
	}
	defer answer(fmt.Errorf("kernel agent on node %s: its stream ended before it said it runs", node))
	var last uint64
	since := time.Now()
	for sc.Scan() {
		var l AgentLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // not a line of ours (a runtime's warning)
		}
		switch {
		case l.Error != "":
			answer(fmt.Errorf("kernel agent on node %s: %s", node, l.Error))
		case l.Ready:
			answer(nil)
		case l.Event != nil:
			k.count()
			k.retryPending()
			k.Deliver(l.UID, l.At, *l.Event)
		case l.Lost > last:
			now := time.Now()
			k.Gap(since, now, fmt.Sprintf("%d kernel events lost on node %s", l.Lost-last, node))
			k.AddLost(l.Lost - last)
			last, since = l.Lost, now
		}
	}
	k.flushPending()
}
