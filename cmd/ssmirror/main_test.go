package main

import (
	"os"
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}
