package health

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config, as the watch command's flags show them.
const (
	DefaultInterval   = 10 * time.Second
	DefaultHysteresis = 5
	DefaultTopN       = 10
	DefaultMaxDump    = 200_000
	// DefaultNotTrackingRepeat is how often a not_tracking warning is
	// repeated while conntrack stays idle in the namespace.
	DefaultNotTrackingRepeat = 10 * time.Minute
)

// DefaultThresholds are the fill percentages that warn by default.
var DefaultThresholds = Thresholds{80, 90, 95}

// Config configures a Monitor.
type Config struct {
	// Interval is how often the watch loop calls Check (--stats-interval);
	// 0 turns the checks off. The Monitor itself keeps no timer.
	Interval time.Duration
	// Thresholds are the fill percentages of nf_conntrack_max that warn
	// when crossed going up (--table-warn). None means no pressure
	// warnings.
	Thresholds Thresholds
	// Hysteresis is how many percentage points below a threshold the fill
	// must fall before the threshold clears and may warn again, so that a
	// table hovering at a threshold does not warn at every check. Zero
	// means DefaultHysteresis, a negative value none.
	Hysteresis float64
	// TopN is how many sources and destination ports a pressure warning
	// names; 0 names none and skips the dump.
	TopN int
	// MaxDump bounds the entries read from the table to find the top
	// holders: beyond it the warning says the top is from a sample. Zero
	// means DefaultMaxDump.
	MaxDump int
	// NotTrackingRepeat is how often the not_tracking warning repeats
	// while conntrack tracks nothing in the namespace. Zero means
	// DefaultNotTrackingRepeat.
	NotTrackingRepeat time.Duration
}

// DefaultConfig returns the configuration the watch command uses without
// flags.
func DefaultConfig() Config {
	return Config{
		Interval:   DefaultInterval,
		Thresholds: slices.Clone(DefaultThresholds),
		Hysteresis: DefaultHysteresis,
		TopN:       DefaultTopN,
		MaxDump:    DefaultMaxDump,

		NotTrackingRepeat: DefaultNotTrackingRepeat,
	}
}

// ErrBadThresholds is returned for a --table-warn list that does not parse.
var ErrBadThresholds = errors.New("bad threshold list")

// Thresholds is a set of fill percentages, ascending. It is a flag.Value
// taking a comma-separated list ("80,90,95"; a "%" after each number is
// allowed; "" or "off" for none).
type Thresholds []float64

// ParseThresholds parses a comma-separated list of percentages, each above 0
// and at most 100, into ascending order without duplicates.
func ParseThresholds(s string) (Thresholds, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return Thresholds{}, nil
	}
	var out Thresholds
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "%")
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v > 0 && v <= 100) {
			return nil, fmt.Errorf("%w: %q: want percentages above 0 and at most 100, separated by commas", ErrBadThresholds, s)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// String returns the list as Set accepts it.
func (t Thresholds) String() string {
	parts := make([]string, len(t))
	for i, v := range t {
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// Set replaces the list with the one parsed from s.
func (t *Thresholds) Set(s string) error {
	v, err := ParseThresholds(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}
