package synth

import (
	"fmt"

	"github.com/clearway/clearway/pkg/record"
)

// unknownCountyError explains how to spell a county.
func unknownCountyError(name string) error {
	return fmt.Errorf("synth: unknown county %q (%s), or \"\" for all counties", name, record.CountyHint(name))
}
