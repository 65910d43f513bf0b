package synth_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/clearway/clearway/pkg/synth"
)

// Generate a small Sacramento extract. The same Config always gives the same file.
func ExampleGenerate() {
	cfg := synth.Config{Seed: 1, Rows: 1000, County: "SACRAMENTO", Header: true}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	st, err := synth.Generate(context.Background(), io.Discard, cfg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Rows >= 1000, st.Subjects > 50, st.Prop64Subjects > 0)
	// Output: true true true
}
