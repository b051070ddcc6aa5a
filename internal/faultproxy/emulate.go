package faultproxy

import "net/http"

// An Emulation makes a real S3 server behind the proxy behave like a
// store that lacks a feature, the way stores in the field do. Add its
// rules to a proxy with Proxy.Emulate; those that change requests need
// Proxy.Credentials.
type Emulation struct {
	Name  string // what the store does, for test names
	Rules func() []*Rule
}

// Emulations lists the stores the tests cannot run but emulate.
var Emulations = []Emulation{
	// Garage, GCS's S3 interoperability, some SeaweedFS, MinIO and
	// versitygw versions: the conditional headers of PutObject are
	// accepted and ignored.
	{"ignores-conditional-writes", func() []*Rule {
		return []*Rule{{Name: "ignore conditional headers", Method: http.MethodPut, Header: []string{"If-Match", "If-None-Match"}, Fault: Strip}}
	}},
	// Backblaze B2: "Unsupported header" on every PUT that carries the
	// checksum header.
	{"rejects-checksum-header", func() []*Rule {
		return []*Rule{{Name: "reject the checksum header", Method: http.MethodPut, Header: []string{"X-Amz-Checksum-Sha256"}, Fault: Status,
			Code: http.StatusBadRequest, S3Code: "InvalidArgument", Message: "Unsupported header 'x-amz-checksum-sha256' received for this API call."}}
	}},
	// Dell ECS, a RustFS beta: the checksum header is accepted and not
	// checked.
	{"ignores-wrong-checksum", func() []*Rule {
		return []*Rule{{Name: "ignore the checksum header", Method: http.MethodPut, Header: []string{"X-Amz-Checksum-Sha256"}, Fault: Strip}}
	}},
	// Stores whose ListObjectsV2 ignores start-after.
	{"ignores-start-after", func() []*Rule {
		return []*Rule{{Name: "drop start-after", Method: http.MethodGet, Query: []string{"start-after"}, Fault: Strip}}
	}},
	// AWS under races: a conditional write answered 409
	// ConditionalRequestConflict (here every other one), to be tried
	// again.
	{"conflicts-409", func() []*Rule {
		return []*Rule{{Name: "409 conflict", Method: http.MethodPut, Header: []string{"If-Match", "If-None-Match"}, Every: 2, Fault: Status, Code: http.StatusConflict}}
	}},
}

// Emulate adds the rules of the emulation named name and returns them; it
// panics on an unknown name (a test's mistake).
func (p *Proxy) Emulate(name string) []*Rule {
	for _, e := range Emulations {
		if e.Name == name {
			rules := e.Rules()
			for _, r := range rules {
				p.Add(r)
			}
			return rules
		}
	}
	panic("faultproxy: no emulation " + name)
}
