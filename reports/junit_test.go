package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteJUnit(t *testing.T) {
	run := Run{
		Scenarios: []json.RawMessage{[]byte(`{"name":"a"}`), []byte(`{"name":"b"}`), []byte(`{"name":"c"}`)},
		Timings:   map[string]Timing{"a": {TotalMS: 1500}},
		Expectations: []Expectation{
			{Scenario: "a", Met: true, Message: "stale_window 10 > 0: met"},
			{Scenario: "b", Met: false, Message: "stale_window 10 == 0: not met"},
		},
		ScenarioErrors: map[string]string{"c": "services ready: timed out\nmore"},
	}
	path := filepath.Join(t.TempDir(), JUnitFile)
	if err := WriteJUnit(path, run); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	x := string(b)
	for _, want := range []string{`<testsuite name="kubegrace" tests="3" failures="1" errors="1"`, `<testcase name="a" classname="kubegrace" time="1.5">`,
		`<failure message="1 expectation(s) not met">stale_window 10 == 0: not met</failure>`, `<error message="services ready: timed out">`} {
		if !strings.Contains(x, want) {
			t.Errorf("junit lacks %s:\n%s", want, x)
		}
	}
}
