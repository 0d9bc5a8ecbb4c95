// Package docker runs the docker CLI on this host, one way for every
// caller: the error keeps the command and what it printed (kind's
// exec.RunError), so a stopped daemon or a permission problem is never
// reported as a missing image.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// RunError is a docker command that failed: the command, its output
// (stderr, else stdout) and the process's error.
type RunError struct {
	Command []string
	Output  string
	Err     error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("%s: %v", strings.Join(e.Command, " "), e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// Output runs `docker args...` and returns its stdout, trimmed.
func Output(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		out := strings.TrimSpace(stderr.String())
		if out == "" {
			out = strings.TrimSpace(stdout.String())
		}
		return "", &RunError{Command: append([]string{"docker"}, args...), Output: out, Err: err}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// ImageID is the local image ID of ref.
func ImageID(ctx context.Context, ref string) (string, error) {
	return Output(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
}

// IsNoSuchImage says err is docker's answer that the image is not there
// (not a daemon or permission problem).
func IsNoSuchImage(err error) bool {
	var re *RunError
	return errors.As(err, &re) && strings.Contains(strings.ToLower(re.Output), "no such image")
}
