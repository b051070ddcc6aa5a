package redact

import "testing"

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pass@127.0.0.1:8080/streams/v1/index.json": "http://user:xxxxx@127.0.0.1:8080/streams/v1/index.json",
		"https://user@host/x":    "https://user@host/x",
		"https://host/x?a=1&b=2": "https://host/x?a=1&b=2",
		"https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2025&X-Amz-Signature=abc123&X-Amz-Security-Token=tok": "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx&X-Amz-Security-Token=xxxxx",
		"https://h/k?AWSAccessKeyId=AKIA&Signature=s&Expires=1": "https://h/k?AWSAccessKeyId=xxxxx&Signature=xxxxx&Expires=1",
		"https://a.blob.core.windows.net/c/b?sv=2020&sig=abc":   "https://a.blob.core.windows.net/c/b?sv=2020&sig=xxxxx",
		"https://h/x?token=t&access_token=u&X-Goog-Signature=g": "https://h/x?token=xxxxx&access_token=xxxxx&X-Goog-Signature=xxxxx",
		"s3://bucket/prefix":     "s3://bucket/prefix",
		"/srv/mirror":            "/srv/mirror",
		"http://u:p@h/%zz?sig=1": "http://u:xxxxx@h/%zz?sig=xxxxx",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		`GET http://u:secret@h/a: Get "http://u:secret@h/b?sig=s3cr3t": EOF`: `GET http://u:xxxxx@h/a: Get "http://u:xxxxx@h/b?sig=xxxxx": EOF`,
		"mirror a: http://u:pw@h/x -> /srv/m":                                "mirror a: http://u:xxxxx@h/x -> /srv/m",
		"see (https://h/x?token=abc).":                                       "see (https://h/x?token=xxxxx).",
		`{"source":"https://h/x?a=1\u0026X-Amz-Signature=s3cr3t\u0026b=2"}`:  `{"source":"https://h/x?a=1\u0026X-Amz-Signature=xxxxx\u0026b=2"}`,
		"no url here": "no url here",
		// A URL inside an escaped quote (a log line's quoted error) is
		// kept as written: nothing re-encoded, no %5C for the backslash.
		`err="Get \"http://u:pw@h/streams/v1/index.json\": refused"`: `err="Get \"http://u:xxxxx@h/streams/v1/index.json\": refused"`,
		"http://h/a%20b/c d": "http://h/a%20b/c d",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}
