package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// AgentLine is one line of a kernel agent's stream (JSON): first Ready or
// Error, then events of pods' processes and, when the trace buffer
// overran, its lost count. An Error after Ready says the agent lost an
// event (a panic handling it) or, with Stopped, every event from At on.
type AgentLine struct {
	Ready   bool   `json:"ready,omitempty"`
	Error   string `json:"error,omitempty"`
	Stopped bool   `json:"stopped,omitempty"`
	// UID is the pod of the process the event is about; At when the
	// kernel saw it (the node's clock), or for Lost and a late Error, when
	// the agent noticed.
	UID   string          `json:"uid,omitempty"`
	At    time.Time       `json:"at,omitzero"`
	Event *timeline.Event `json:"event,omitempty"`
	// Lost is the trace buffer's overrun count so far; Since when it last
	// was seen not to grow: the events were lost between Since and At.
	Lost  uint64    `json:"lost,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// RunAgent is the kernel agent (kubegrace kernel-agent) on a node: it opens
// a tracer there and writes the events of every pod's processes to out as
// AgentLines until ctx ends (the command's: SIGTERM), then closes the
// tracer. It does not record: which pods are watched is the harness's
// business (Kernel.Feed). Where the kernel cannot be traced it writes an
// Error line and waits for ctx, so the harness reads why rather than a
// crash loop.
func RunAgent(ctx context.Context, procRoot string, out io.Writer) error {
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
	a := newAttributor(procRoot, func(uid string, at time.Time, e timeline.Event) { write(AgentLine{UID: uid, At: at, Event: &e}) })
	write(AgentLine{Ready: true})
	a.scan()
	lostCtx, stopLost := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		defer func() {
			if v := recover(); v != nil {
				write(AgentLine{Error: recovered("kernel agent: the watch of lost events", v).Error(), Stopped: true, At: time.Now()})
			}
		}()
		watchLost(lostCtx, tr, func(total, _ uint64, since, now time.Time) { write(AgentLine{Lost: total, Since: since, At: now}) })
	}()
	err = tr.Run(ctx, func(ev kernel.Event) {
		defer func() {
			if v := recover(); v != nil {
				write(AgentLine{Error: recovered(fmt.Sprintf("kernel agent: %s event", ev.Kind), v).Error(), At: time.Now()})
			}
		}()
		a.handle(ev)
	})
	if err != nil && ctx.Err() == nil {
		// Keep running, silent, until stopped: a restarted agent would
		// break the stream the harness follows.
		write(AgentLine{Error: "kernel agent: " + err.Error(), Stopped: true, At: time.Now()})
		<-ctx.Done()
	} else {
		err = nil
	}
	stopLost()
	<-watched
	if cerr := tr.Close(); err == nil {
		err = cerr
	}
	return err
}

// Feed reads one agent's stream (node names it in messages) into k: its
// events through the index, its lost counts and later errors as gaps. The
// first line says whether the agent runs: ready returns nil, an error line
// returns the error; Feed then goes on reading until r ends.
func (k *Kernel) Feed(r io.Reader, node string, first chan<- error) {
	f := &feed{k: k, node: node, first: first, since: time.Now()}
	defer f.answer(fmt.Errorf("kernel agent on node %s: its stream ended before it said it runs", node))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f.line(sc.Bytes())
	}
	if !f.stopped.IsZero() {
		k.gapOf("kernel observer", f.stopped, time.Now(), fmt.Sprintf("kernel agent on node %s: %s", node, f.stoppedWhy))
	}
	k.flushPending()
}

// feed is one agent's stream being read.
type feed struct {
	k        *Kernel
	node     string
	first    chan<- error
	answered bool
	last     uint64    // the lost count so far
	since    time.Time // the last lost count's time, or the stream's start
	// stopped is when the agent said it no longer sees every event, and
	// stoppedWhy its reason: a gap until the stream ends.
	stopped    time.Time
	stoppedWhy string
}

// answer sends the agent's first answer, once.
func (f *feed) answer(err error) {
	if !f.answered {
		f.answered = true
		f.first <- err
	}
}

// line takes one line of the stream. A panic here loses that line: a gap
// of the scenarios running then, and Feed reads on.
func (f *feed) line(raw []byte) {
	k := f.k
	defer func() {
		if v := recover(); v != nil {
			now := time.Now()
			k.gapOf("kernel observer", now, now, fmt.Sprintf("a line of the kernel agent on node %s could not be read: %s",
				f.node, firstLine(recovered("kernel observer", v).Error())))
		}
	}()
	var l AgentLine
	if err := json.Unmarshal(raw, &l); err != nil {
		return // not a line of ours (a runtime's warning)
	}
	switch {
	case l.Error != "" && f.answered:
		at := l.At
		if at.IsZero() {
			at = time.Now()
		}
		if l.Stopped {
			if f.stopped.IsZero() {
				f.stopped, f.stoppedWhy = at, firstLine(l.Error)
			}
			return
		}
		k.gapOf("kernel observer", at, at, fmt.Sprintf("kernel agent on node %s: %s", f.node, firstLine(l.Error)))
	case l.Error != "":
		f.answer(fmt.Errorf("kernel agent on node %s: %s", f.node, l.Error))
	case l.Ready:
		f.answer(nil)
	case l.Event != nil:
		k.count()
		k.retryPending()
		k.Deliver(l.UID, l.At, *l.Event)
	case l.Lost > f.last:
		from, to := l.Since, l.At
		if from.IsZero() || to.IsZero() {
			// An agent that does not say when: since its last loss.
			from, to = f.since, time.Now()
		}
		k.Gap(from, to, fmt.Sprintf("%d kernel events lost on node %s", l.Lost-f.last, f.node))
		k.AddLost(l.Lost - f.last)
		f.last, f.since = l.Lost, time.Now()
	}
}
