package record

import (
	"fmt"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// OutputError writes a failure of the output. It goes to the same output,
// which may be unable to carry it: it lands once writes succeed again, and
// the sink has already said it on the diagnostic stream.
func (e *Encoder) OutputError(o *OutputError) {
	write(e, o, (*Encoder).nativeOutputError, (*Encoder).ecsOutputError, (*Encoder).ocsfOutputError)
}

// OutputRecovered writes that an operation of the output works again, and
// how many records were lost while it failed.
func (e *Encoder) OutputRecovered(o *OutputRecovered) {
	write(e, o, (*Encoder).nativeOutputRecovered, (*Encoder).ecsOutputRecovered, (*Encoder).ocsfOutputRecovered)
}

// NetnsGone warns that the watched namespace is gone.
func (e *Encoder) NetnsGone(n *NetnsGone) {
	write(e, n, (*Encoder).nativeNetnsGone, (*Encoder).ecsNetnsGone, (*Encoder).ocsfNetnsGone)
}

// NetnsAdded writes that a namespace is watched from now on (a watch of
// several namespaces), with its identity and its dump's outcome.
func (e *Encoder) NetnsAdded(a *NetnsAdded) {
	write(e, a, (*Encoder).nativeNetnsAdded, (*Encoder).ecsNetnsAdded, (*Encoder).ocsfNetnsAdded)
}

// NetnsRemoved writes that a watched namespace vanished (a pod went away:
// normal, info level), with the flows its end ended.
func (e *Encoder) NetnsRemoved(r *NetnsRemoved) {
	write(e, r, (*Encoder).nativeNetnsRemoved, (*Encoder).ecsNetnsRemoved, (*Encoder).ocsfNetnsRemoved)
}

// netnsAddedLevel is the level of a netns_added record: info, a warning
// when its dump failed (as a dump record's).
func netnsAddedLevel(a *NetnsAdded) zerolog.Level {
	if a.Err != nil {
		return zerolog.WarnLevel
	}
	return zerolog.InfoLevel
}

// appendNSIdentity appends the identity object of a namespace the records
// about namespaces name (netns_added, netns_removed, the stop record).
func appendNSIdentity(dst []byte, ns *nsdiscover.NS) []byte {
	return appendNetnsIdentity(dst, model.NetNS{}, *ns, true)
}

// errnoName returns the errno's symbol ("ENOSPC"), "" for 0.
func errnoName(errno syscall.Errno) string {
	if errno == 0 {
		return ""
	}
	if name := unix.ErrnoName(errno); name != "" {
		return name
	}
	return fmt.Sprintf("errno %d", int(errno))
}

// netnsGoneHint is the netns_gone record's hint, by what the watch does.
func netnsGoneHint(wait bool) string {
	if wait {
		return "the watched network namespace was deleted and no process lives in it: nothing can happen in it any more; ctwatch keeps running (--on-netns-gone wait) and /healthz reports it"
	}
	return "the watched network namespace was deleted and no process lives in it: nothing can happen in it any more; ctwatch stops (--on-netns-gone wait keeps it running)"
}

// gapWriteErrorHint is the hint of an output gap whose records were lost
// to write errors rather than dropped while output was behind.
func gapWriteErrorHint(g *Gap) string {
	return "records were lost to write errors: " + g.WriteError
}

// skippedFull writes "skipped_full", the entries of dumps the full tracker
// left untracked, when there are any: most runs never fill the tracker.
func skippedFull(n uint64) func(*zerolog.Event) {
	return func(z *zerolog.Event) {
		if n > 0 {
			z.Uint64("skipped_full", n)
		}
	}
}
