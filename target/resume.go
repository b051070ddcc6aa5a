package target

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ResumeDir holds the resume records of Resumer stores: one small object
// per key whose Put was cut off, named ResumeKey(key). It is one of the
// tool's own directories (under .ssmirror/).
const ResumeDir = ".ssmirror/resume/"

// ResumeKey returns the key of the resume record of key.
func ResumeKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return ResumeDir + hex.EncodeToString(h[:]) + ".json"
}

// ErrStartOver is wrapped by the error of a ResumePut open function that
// cannot give the body from the offset asked (the source ignores ranged
// reads): the store drops what it kept and asks for the body from byte 0.
var ErrStartOver = errors.New("cannot go on from the stored bytes")

// Sum is the checksum a resumable Put checks its whole body against and
// keys its resume record on: the algorithm ("sha256", "sha512" or "md5")
// and the digest.
type Sum struct {
	Algo   string
	Digest []byte
}

// ErrAlgo is wrapped by the error for a Sum whose algorithm is unknown or
// whose digest has the wrong length.
var ErrAlgo = errors.New("unsupported checksum")

// NewHash returns a new digest of sum's algorithm, after checking the
// digest's length.
func (sum Sum) NewHash() (hash.Hash, error) {
	var h hash.Hash
	switch sum.Algo {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	case "md5":
		h = md5.New()
	default:
		return nil, fmt.Errorf("%w: algorithm %q", ErrAlgo, sum.Algo)
	}
	if len(sum.Digest) != h.Size() {
		return nil, fmt.Errorf("%w: a %s digest of %d bytes", ErrAlgo, sum.Algo, len(sum.Digest))
	}
	return h, nil
}

// Restore returns a digest of sum's algorithm in the state a resume record
// keeps (Resumed.State).
func (sum Sum) Restore(state []byte) (hash.Hash, error) {
	h, err := sum.NewHash()
	if err != nil {
		return nil, err
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("restoring the %s state: %w", sum.Algo, err)
	}
	return h, nil
}

// String is the algorithm and the lower-case hex digest.
func (sum Sum) String() string { return sum.Algo + ":" + hex.EncodeToString(sum.Digest) }

// Resumed says where a cut-off Put of the same key, size and Sum stopped.
type Resumed struct {
	// Offset is the number of leading bytes of the body already stored;
	// 0 means the body is sent whole.
	Offset int64
	// State is the state of a digest of the Put's Sum algorithm (from
	// crypto/sha256, crypto/sha512 or crypto/md5, marshalled with
	// encoding.BinaryMarshaler) that has hashed those bytes; nil when
	// Offset is 0. Sum.Restore gives the digest back.
	State []byte
}

// OpenFunc opens the body of a resumable Put from from.Offset on.
type OpenFunc func(from Resumed) (io.Reader, error)

// A Resumer keeps what a Put cut off part way through had stored, so that
// a later Put of the same key, size and checksum sends only the rest.
type Resumer interface {
	// PutResumable is Put (size bytes, not conditional) of the body that
	// open gives from the offset where an earlier cut-off PutResumable of
	// key with the same size and sum stopped, or from 0 when there is none
	// or it does not match (what it kept is then dropped). sum is the
	// item's SHA-256 when it has one (opts.SHA256, when set, is that
	// digest), else its strongest other checksum. The whole body's sum
	// (the stored bytes' state and the rest) and size are checked before
	// the object becomes visible, as Put checks opts.SHA256. When the body fails (an error, too short)
	// after some bytes were stored, those bytes and a resume record
	// (ResumeKey) are kept, the key is left as it was, and the error is
	// returned; on success, a checksum mismatch, a body too long or a
	// cancelled ctx, nothing is kept (as Put, a cancelled one aborts). An error of open wrapping ErrStartOver makes
	// the store drop what it kept and call open again from 0.
	PutResumable(ctx context.Context, key string, size int64, sum Sum, opts PutOptions, open OpenFunc) (etag string, err error)

	// DropResume removes what a cut-off Put of key kept (its resume record
	// and the stored bytes). Dropping nothing is not an error.
	DropResume(ctx context.Context, key string) error
}

// PutResumable is PutResumable of st when it is a Resumer and the Put
// can resume (a known sum, not conditional); otherwise it is a Put of the
// body open gives from 0.
func PutResumable(ctx context.Context, st Store, key string, size int64, sum Sum, opts PutOptions, open OpenFunc) (string, error) {
	_, err := sum.NewHash()
	if r, ok := st.(Resumer); ok && err == nil && !opts.IfAbsent && opts.IfMatch == "" {
		return r.PutResumable(ctx, key, size, sum, opts, open)
	}
	body, err := open(Resumed{})
	if err != nil {
		return "", err
	}
	return st.Put(ctx, key, body, size, opts)
}

// DropResume is DropResume of st when it is a Resumer; other stores keep
// nothing.
func DropResume(ctx context.Context, st Store, key string) error {
	if r, ok := st.(Resumer); ok {
		return r.DropResume(ctx, key)
	}
	return nil
}

// DropResumes drops (DropResume) each cut-off Put of st whose resume
// record drop selects, given the record and the record's object (ModTime:
// when it was last written, after the last part stored), and returns
// their keys. A record that cannot be read is deleted. Other stores than
// Resumers hold no records.
func DropResumes(ctx context.Context, st Store, drop func(rec ResumeRecord, obj Object) bool) ([]string, error) {
	r, ok := st.(Resumer)
	if !ok {
		return nil, nil
	}
	var objs []Object
	if err := st.List(ctx, ResumeDir, func(o Object) error { objs = append(objs, o); return nil }); err != nil {
		return nil, err
	}
	var dropped []string
	for _, o := range objs {
		rec, err := readRecord(ctx, st, o.Key)
		if err != nil {
			if errors.Is(err, ErrNotExist) {
				continue // dropped meanwhile
			}
			if err := st.Delete(ctx, o.Key); err != nil {
				return dropped, err
			}
			continue
		}
		if !drop(rec, o) {
			continue
		}
		if err := r.DropResume(ctx, rec.Key); err != nil {
			return dropped, err
		}
		dropped = append(dropped, rec.Key)
	}
	return dropped, nil
}

// ResumeRecord is the content of a resume record. Stores fill the fields
// that concern them.
type ResumeRecord struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	// The checksum of the whole body (Sum): its algorithm and
	// lower-case hex digest.
	Algo   string `json:"algo"`
	Sum    string `json:"sum"`
	Offset int64  `json:"offset"` // bytes stored
	State  []byte `json:"state"`  // the digest state (Resumed.State) of those bytes
	// An S3 multipart upload: its id, part size and the parts done.
	UploadID string       `json:"upload_id,omitempty"`
	PartSize int64        `json:"part_size,omitempty"`
	Parts    []ResumePart `json:"parts,omitempty"`
	// A directory's partial temporary file, relative to the store root.
	Temp string `json:"temp,omitempty"`
}

// ResumePart is one uploaded part of a multipart upload.
type ResumePart struct {
	Number int    `json:"number"`
	ETag   string `json:"etag"`
	Size   int64  `json:"size"`
}

// maxResumeRecord bounds the size of a resume record read back.
const maxResumeRecord = 4 << 20

// ReadResume reads the resume record of key from st. A missing record
// gives an error wrapping ErrNotExist; one that cannot be decoded, or
// that names another key, gives an error naming the record.
func ReadResume(ctx context.Context, st Store, key string) (ResumeRecord, error) {
	rec, err := readRecord(ctx, st, ResumeKey(key))
	if err == nil && rec.Key != key {
		return rec, fmt.Errorf("%s/%s: record of %q, not %q", st, ResumeKey(key), rec.Key, key)
	}
	return rec, err
}

// readRecord reads the resume record at rk.
func readRecord(ctx context.Context, st Store, rk string) (ResumeRecord, error) {
	rc, _, err := st.Open(ctx, rk)
	if err != nil {
		return ResumeRecord{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxResumeRecord+1))
	if err != nil {
		return ResumeRecord{}, fmt.Errorf("read %s/%s: %w", st, rk, err)
	}
	var rec ResumeRecord
	if len(data) > maxResumeRecord {
		return rec, fmt.Errorf("%s/%s: larger than %d bytes", st, rk, maxResumeRecord)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("%s/%s: %w", st, rk, err)
	}
	if ResumeKey(rec.Key) != rk {
		return rec, fmt.Errorf("%s/%s: record of %q, which is not its key", st, rk, rec.Key)
	}
	return rec, nil
}

// WriteResume stores rec as the resume record of rec.Key in st.
func WriteResume(ctx context.Context, st Store, rec ResumeRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	_, err = st.Put(ctx, ResumeKey(rec.Key), bytes.NewReader(data), int64(len(data)), PutOptions{ContentType: "application/json", SHA256: sum[:]})
	return err
}

// NewResumeRecord returns the record of a Put of key (size bytes, sum)
// that has stored nothing yet.
func NewResumeRecord(key string, size int64, sum Sum) ResumeRecord {
	return ResumeRecord{Key: key, Size: size, Algo: sum.Algo, Sum: hex.EncodeToString(sum.Digest)}
}

// Matches reports whether rec is a record of a Put of size bytes with
// checksum sum whose stored bytes hash to State.
func (rec ResumeRecord) Matches(size int64, sum Sum) bool {
	return rec.Size == size && rec.Algo == sum.Algo && rec.Sum == hex.EncodeToString(sum.Digest) &&
		rec.Offset > 0 && rec.Offset < size && len(rec.State) > 0
}

// DigestState returns the state of h, a digest from crypto/sha256,
// crypto/sha512 or crypto/md5, as Resumed.State keeps it.
func DigestState(h hash.Hash) []byte {
	b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // the standard library's digests never fail
	}
	return b
}
