//go:build integration

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// report is everything one benchmark run produced.
type report struct {
	Machine      machineInfo   `json:"machine"`
	Config       benchConfig   `json:"config"`
	Calibrations []calibration `json:"calibrations"`
	Results      []runResult   `json:"results"`
	// NetNS holds the netns part's measurements.
	NetNS []nsResult `json:"netns,omitempty"`
	// BigTable holds the bigtable part's measurements.
	BigTable *bigTableResult `json:"bigtable,omitempty"`
	// LowRate holds the lowrate part's measurements.
	LowRate []lowResult `json:"lowrate,omitempty"`
	// Filter holds the filter part's calibrations and measurements.
	Filter *filterPart `json:"filter,omitempty"`
	// GoBench holds the stage benchmarks read from -gobench.
	GoBench []goBench `json:"gobench,omitempty"`
	// Skipped maps a monitor to why it could not be run at all.
	Skipped  map[string]string `json:"skipped,omitempty"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
}

// machineInfo describes where the numbers were measured.
type machineInfo struct {
	CPUModel  string
	CPUs      int
	Kernel    string
	GoVersion string
	Conntrack string
	Ulogd     string
	Ctwatch   string
	Commit    string
	// RmemDefault is the host's net.core.rmem_default: the buffer of
	// conntrack -E's event socket.
	RmemDefault int64
	// MemBytes is the machine's memory, which sizes ctwatch's default
	// receive buffer.
	MemBytes int64
	// Virtual is set when the CPU says it runs under a hypervisor.
	Virtual bool
}

// calibration is the count of one load's events by a raw listener whose
// buffer cannot overflow, against what the generator says it produced.
type calibration struct {
	Load       string
	Generated  eventCounts
	Received   eventCounts
	Drops      uint64
	GenSeconds float64
	Err        string
}

// OK says whether the listener saw exactly the generated events.
func (c calibration) OK() bool {
	return c.Err == "" && c.Drops == 0 &&
		c.Received.New == c.Generated.New && c.Received.Update == c.Generated.Update &&
		c.Received.Destroy == c.Generated.Destroy
}

// writeReport saves a report as JSON (-json): every run's raw
// measurements, and what -render needs to print and write them again.
func writeReport(path string, rep *report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// readReport loads a report saved by writeReport.
func readReport(path string) (*report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("decode results %s: %w", path, err)
	}
	return &rep, nil
}

// writeDocumentFile writes the Markdown document to path.
func writeDocumentFile(path string, rep *report) error {
	var doc bytes.Buffer
	writeDocument(&doc, rep)
	if err := os.WriteFile(path, doc.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write document: %w", err)
	}
	return nil
}

// renderSaved is -render: it prints the tables of a saved report, and
// writes its document with -write, without measuring anything.
func renderSaved(cfg benchConfig, stdout, stderr io.Writer) error {
	rep, err := readReport(cfg.Render)
	if err != nil {
		return err
	}
	if cfg.GoBench != "" {
		if rep.GoBench, err = readGoBench(cfg.GoBench); err != nil {
			return err
		}
	}
	writeStdout(stdout, rep)
	if cfg.Write != "" {
		if err := writeDocumentFile(cfg.Write, rep); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "ctbench: wrote %s\n", cfg.Write)
	}
	return nil
}
