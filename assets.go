// Package kubegrace holds what a kubegrace binary needs besides its Go
// code, embedded so that `go install github.com/kubegrace/kubegrace/cmd/kubegrace`
// works with no checkout: the kind cluster config, the image recipes and
// host scripts (images/, hack/), the fixture app's source (its image is
// built from it) with the module files to build it, and the built-in
// scenario specs. harness/assets writes them out where the scripts can run.
package kubegrace

import "embed"

// Assets is the embedded tree, with the repository's layout.
//
//go:embed kind-config.yaml go.mod go.sum images hack fixtures scenarios/specs harness/consul/VERSION
var Assets embed.FS
