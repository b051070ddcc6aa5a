package main

import (
	"testing"

	"github.com/ssmirror/ssmirror/internal/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }
