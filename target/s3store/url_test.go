package s3store

import "testing"

func TestStoreURL(t *testing.T) {
	cases := []struct {
		s    *Store
		want string
	}{
		{&Store{endpoint: "http://127.0.0.1:9000", bucket: "b", prefix: "maas/stable/"}, "http://127.0.0.1:9000/b/maas/stable/"},
		{&Store{endpoint: "https://minio.example.com", bucket: "b"}, "https://minio.example.com/b/"},
		{&Store{endpoint: "https://s3.amazonaws.com", bucket: "b", prefix: "p/", virtualHost: true}, "https://b.s3.amazonaws.com/p/"},
	}
	for _, c := range cases {
		if got := c.s.URL(); got != c.want {
			t.Errorf("URL() = %q, want %q", got, c.want)
		}
	}
}
