// Command ward is the single binary of the Ward platform: hashing, matching,
// the server and its administration. Run "ward help" for the subcommands.
// The command line is internal/cli; this package wires the server ("ward
// serve") and hands it to the command line.
package main

import "github.com/wardhq/ward/internal/cli"

// program is the command line with the server this package wires.
var program = cli.Server{Serve: serveCommand, Start: startBenchServer}

func main() { cli.Main(program) }
