//go:build tools

// The Go witness this project's tests run, built from this module's pinned versions:
// go build filippo.io/torchwood/cmd/litewitness filippo.io/torchwood/cmd/witnessctl
package main

import (
	_ "filippo.io/torchwood/cmd/litewitness"
	_ "filippo.io/torchwood/cmd/witnessctl"
)
