package s3store

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// directPut sends single PUTs of objects in memory to a path-style
// endpoint with the signer, without minio-go's request path (its bucket
// and object name checks by regular expression, its URL built as text and
// parsed again, its retry timer and hooks): for a small object these cost
// a good part of what sending it does. It makes one attempt; whatever is
// not a success is left to minio-go, which retries and reports errors
// (see Store.putObject).
type directPut struct {
	sig    *signer
	scheme string
	host   string // as minio-go sends it: without a default port
	base   string // "/bucket/"
}

// newDirectPut returns a directPut for bucket at endpoint, or nil when
// minio-go would not address it path-style at endpoint itself (Amazon S3
// and other virtual-host endpoints, whose host depends on the bucket and
// its region).
func newDirectPut(sig *signer, endpoint url.URL, bucket string, pathStyle bool) *directPut {
	if s3utils.IsAmazonEndpoint(endpoint) || !pathStyle && s3utils.IsVirtualHostSupported(endpoint, bucket) {
		return nil
	}
	host := endpoint.Host
	if h, p, err := net.SplitHostPort(host); err == nil {
		if endpoint.Scheme == "http" && p == "80" || endpoint.Scheme == "https" && p == "443" {
			host = h
			if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
				host = "[" + h + "]"
			}
		}
	}
	return &directPut{sig: sig, scheme: endpoint.Scheme, host: host, base: "/" + bucket + "/"}
}

// put sends one PUT of buf as object name with the headers minio-go sends
// for mopts (and Content-MD5 md5b64 when set). A 4xx answer is the
// store's error, as minio-go reports it (a minio.ErrorResponse); done is
// false when the request failed or was answered otherwise than 200 OK or
// an S3 error document with a 4xx status: the caller then sends the PUT
// through minio-go, which retries it (an unconditional PUT may be sent
// again).
func (d *directPut) put(ctx context.Context, name string, buf []byte, md5b64 string, mopts minio.PutObjectOptions) (etag string, done bool, err error) {
	h := mopts.Header()
	if md5b64 != "" {
		h["Content-Md5"] = []string{md5b64}
	}
	u := &url.URL{Scheme: d.scheme, Host: d.host, Path: d.base + name}
	if enc := string(appendURIPath([]byte(d.base), name)); enc != u.Path {
		u.RawPath = enc
	}
	req := (&http.Request{
		Method: http.MethodPut, URL: u, Host: d.host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(buf)), ContentLength: int64(len(buf)),
	}).WithContext(ctx)
	if len(buf) == 0 {
		req.Body = http.NoBody // else net/http would not say Content-Length: 0
	}
	resp, err := d.sig.send(req)
	if err != nil {
		return "", false, nil
	}
	// Read to the end, so that the connection is used again.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case err != nil:
		return "", false, nil
	case resp.StatusCode == http.StatusOK:
		return trimETag(resp.Header.Get("ETag")), true, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		er := minio.ErrorResponse{StatusCode: resp.StatusCode}
		if xml.Unmarshal(body, &er) != nil || er.Code == "" {
			return "", false, nil
		}
		er.Server = resp.Header.Get("Server")
		return "", true, er
	}
	return "", false, nil
}
