//go:build integration

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

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
