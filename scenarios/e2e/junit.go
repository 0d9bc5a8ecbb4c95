// Package e2e runs every built-in scenario as the main job (make e2e).
package e2e

// ginkgoJUnit is where the suite's own Ginkgo JUnit goes in the report
// folder: beside the report's junit.xml (reports.JUnitFile, where an
// inconclusive scenario is skipped), never over it.
const ginkgoJUnit = "ginkgo-junit.xml"
