package kernel

import (
	"testing"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Every result signal_generate reports has the timeline's word for it, and
// a parsed line carries it.
func TestSignalResultNames(t *testing.T) {
	for r, want := range map[SignalResult]string{
		ResDelivered: timeline.ResultDelivered, ResIgnored: timeline.ResultIgnored, ResAlreadyPended: timeline.ResultPending,
		ResOverflowFail: timeline.ResultOverflow, ResLoseInfo: timeline.ResultLoseInfo, 7: "result 7",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d: %q, want %q", int(r), got, want)
		}
	}
	ev, err := ParseLine("            bash-4242    (   4242) [001] d..2.  1324.400713: signal_generate: sig=15 errno=0 code=0 comm=sleep pid=4243 grp=1 res=2", nil)
	if err != nil || ev.Res != ResAlreadyPended || ev.Res.String() != timeline.ResultPending {
		t.Errorf("parsed %+v, %v", ev, err)
	}
	for h, want := range map[uint64]string{0: timeline.HandlerDefault, 1: timeline.HandlerIgnore, 0x7ff019ad4d00: timeline.HandlerCaught} {
		if got := HandlerName(h); got != want {
			t.Errorf("handler %#x: %q, want %q", h, got, want)
		}
	}
}
