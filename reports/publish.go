package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Publish is the one way from a run's results to a written report, for
// the job, the probe and the kind tier alike: it assembles the run
// (Assemble), writes the report folder dir (Write) with its JUnit file,
// and, when latest is set, points the link latest beside dir at it. The
// error is what could not be written; the run's own is Run.Err.
func Publish(dir string, latest bool, meta Meta, scenarios []ScenarioRun, tl timeline.Timeline, runErr error) (Run, []check.Verdict, error) {
	run, vs := Assemble(meta, scenarios, tl, runErr)
	var err error
	if werr := Write(dir, run, tl, vs); werr != nil {
		err = fmt.Errorf("write report %s: %w", dir, werr)
	}
	if werr := WriteJUnit(filepath.Join(dir, JUnitFile), run); werr != nil {
		err = errors.Join(err, werr)
	}
	if latest {
		link := filepath.Join(filepath.Dir(dir), "latest")
		_ = os.Remove(link)
		_ = os.Symlink(filepath.Base(dir), link)
	}
	return run, vs, err
}
