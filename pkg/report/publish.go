package report

import (
	"fmt"
	"os"
	"path/filepath"
)

// StagingDir is the folder, inside a run's output folder, where the run's outputs are
// written; Publish moves them into place only once the whole run has succeeded, so a
// failed or restarted run never leaves a mix of old and new files.
const StagingDir = ".clearway-partial"

// Publish moves every file of dir/StagingDir into dir and removes the staging folder.
func Publish(dir string) error {
	stage := filepath.Join(dir, StagingDir)
	ents, err := os.ReadDir(stage)
	if err != nil {
		return fmt.Errorf("publish outputs: %w", err)
	}
	for _, e := range ents {
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("publish outputs: %w", err)
		}
	}
	return os.Remove(stage)
}
