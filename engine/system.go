package engine

import (
	"crypto/rand"
	"io"
	"time"
)

// The only place where the engine package touches the system clock and the
// system's entropy: the defaults for [Service]. Decide and Evolve never call
// them; `just check` greps the core for time.Now and math/rand outside this
// file.

func systemNow() time.Time { return time.Now().UTC() }

var systemRand io.Reader = rand.Reader
