package memstore

import (
	"testing"

	"github.com/ssmirror/ssmirror/target"
	"github.com/ssmirror/ssmirror/target/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) target.Store { return New(t.Name()) })
}
