package docker

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// The error keeps the command and docker's own words, whatever failed.
func TestRunErrorKeepsCommandAndOutput(t *testing.T) {
	err := &RunError{Command: []string{"docker", "image", "inspect", "x"}, Output: "Error: No such image: x", Err: errors.New("exit status 1")}
	if got := err.Error(); got != "docker image inspect x: exit status 1: Error: No such image: x" {
		t.Errorf("%q", got)
	}
	if !IsNoSuchImage(err) {
		t.Error("docker's no such image not recognised")
	}
	daemon := &RunError{Command: []string{"docker"}, Output: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock", Err: errors.New("exit status 1")}
	if IsNoSuchImage(daemon) {
		t.Error("a daemon that does not answer is not a missing image")
	}
}

// Against the real CLI (the fast tier's machine has it): a failure names
// the command and says why in docker's words (a missing image, or a daemon
// that does not answer), never just "exit status 1".
func TestImageIDOfAMissingImage(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI")
	}
	_, err := ImageID(context.Background(), "kubegrace.invalid/none:0")
	var re *RunError
	if !errors.As(err, &re) || re.Output == "" || !strings.Contains(err.Error(), "docker image inspect") {
		t.Fatalf("error %v; want the command and docker's output", err)
	}
}
