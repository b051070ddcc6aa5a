package s3store

import (
	"context"
	"strings"
	"time"

	"github.com/ssmirror/ssmirror/target"
)

// AbortIncompleteUploads aborts the multipart uploads under the store's
// prefix that were started before olderThan ago (uploads of a run that was
// killed), and returns the keys it aborted. Younger uploads may belong to
// a run in progress and are left alone. The resume record of an upload
// it aborts is deleted with it.
func (s *Store) AbortIncompleteUploads(ctx context.Context, olderThan time.Duration) ([]string, error) {
	cutoff := time.Now().Add(-olderThan)
	var aborted []string
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if up.Err != nil {
			return aborted, s.wrapErr("list incomplete uploads", "", up.Err)
		}
		if !up.Initiated.Before(cutoff) {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil {
			return aborted, s.wrapErr("abort multipart upload", strings.TrimPrefix(up.Key, s.prefix), err)
		}
		key := strings.TrimPrefix(up.Key, s.prefix)
		if rec, err := target.ReadResume(ctx, s, key); err == nil && rec.UploadID == up.UploadID {
			if err := s.Delete(ctx, target.ResumeKey(key)); err != nil {
				return aborted, err
			}
		}
		aborted = append(aborted, key)
	}
	return aborted, nil
}
