package e2e

import (
	"testing"

	"github.com/kubegrace/kubegrace/reports"
)

// Ginkgo's JUnit once overwrote the report's, so an inconclusive scenario
// failed in CI instead of being skipped.
func TestGinkgoJUnitIsNotTheReports(t *testing.T) {
	if ginkgoJUnit == reports.JUnitFile {
		t.Fatalf("the suite's Ginkgo JUnit %q would overwrite the report's", ginkgoJUnit)
	}
}
