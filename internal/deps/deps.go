// Package deps pins the project's direct dependencies while the packages
// that use them are being written, so that `go mod tidy` keeps them. It is
// deleted once every dependency has a real importer.
package deps

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/mdlayher/netlink"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/ti-mo/conntrack"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sys/unix"
)
