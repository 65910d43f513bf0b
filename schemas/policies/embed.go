// Package policies holds Clearway's built-in county policies (YAML, the schema that
// pkg/policy documents and loads) and embeds them into the binary.
package policies

import "embed"

// FS holds the built-in policy files, one "<name>.yaml" per policy.
//
//go:embed *.yaml
var FS embed.FS
