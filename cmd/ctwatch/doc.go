// Command ctwatch watches the Linux connection-tracking table live over
// netlink and reports it as structured records; see the README.
//
// The binary is a thin shell: main catches signals and calls run, which
// parses the subcommand (watch, parse, stats, doctor, version) and returns
// an error; only main exits the process. Each subcommand is a function
// runX(ctx, args, stdout, stderr) error in a file of its name, which tests
// call directly.
package main
