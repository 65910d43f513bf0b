// Package acceptance holds Clearway's end-to-end acceptance tests: synthetic DOJ
// extracts in testdata/acceptance are run through the embedded pipeline (reader,
// engine, outputs) and the results are compared with gogen 0.2.13's outputs on the
// same inputs, cell by cell, and with the determinations of gogen-behaviour.md §6.1.
//
// The package has no code of its own; the tests live in package acceptance_test.
package acceptance
