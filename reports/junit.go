package reports

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"
)

// JUnitFile is the JUnit XML a run writes beside its report, for CI
// systems: one test case per scenario.
const JUnitFile = "junit.xml"

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes run as JUnit XML to path: a scenario that failed to
// run is an error, one with an unmet expectation a failure; the system-out
// lists every expectation with its value.
func WriteJUnit(path string, run Run) error {
	s := junitSuite{Name: "kubegrace"}
	for _, name := range run.ScenarioNames() {
		c := junitCase{Name: name, ClassName: "kubegrace", Time: run.Timings[name].TotalMS / 1000}
		var unmet, lines []string
		for _, e := range run.Expectations {
			if e.Scenario != name {
				continue
			}
			lines = append(lines, e.Message)
			if !e.Met {
				unmet = append(unmet, e.Message)
			}
		}
		c.SystemOut = strings.Join(lines, "\n")
		switch {
		case run.ScenarioErrors[name] != "":
			c.Error = &junitProblem{Message: firstLine(run.ScenarioErrors[name]), Text: run.ScenarioErrors[name]}
			s.Errors++
		case run.Inconclusive[name] != "":
			c.Skipped = &junitProblem{Message: "inconclusive: " + run.Inconclusive[name]}
			s.Skipped++
		case len(unmet) > 0:
			c.Failure = &junitProblem{Message: fmt.Sprintf("%d expectation(s) not met", len(unmet)), Text: strings.Join(unmet, "\n")}
			s.Failures++
		}
		s.Cases = append(s.Cases, c)
		s.Time += c.Time
	}
	s.Tests = len(s.Cases)
	b, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{s}}, "", "  ")
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
