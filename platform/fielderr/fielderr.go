// Package fielderr carries field validation errors across gRPC as
// INVALID_ARGUMENT with google.rpc.BadRequest details, so the gateway can
// answer them in the public DRF style: 400 {"field": ["message", ...]}.
package fielderr

import (
	"sort"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Fields maps a public JSON field name to its messages.
type Fields map[string][]string

// Add appends a message for field.
func (f Fields) Add(field, msg string) { f[field] = append(f[field], msg) }

// Err returns nil when f is empty, else the INVALID_ARGUMENT status error.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	br := &errdetails.BadRequest{}
	first := ""
	for _, k := range names {
		for _, m := range f[k] {
			if first == "" {
				first = m
			}
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: k, Description: m})
		}
	}
	st, err := status.New(codes.InvalidArgument, first).WithDetails(br)
	if err != nil { // only when details cannot be marshalled
		return status.Error(codes.InvalidArgument, first)
	}
	return st.Err()
}

// New returns the error for a single field and message.
func New(field, msg string) error { return Fields{field: {msg}}.Err() }

// FromError returns the field messages carried by err, or nil when err is
// not an INVALID_ARGUMENT status with BadRequest details.
func FromError(err error) Fields {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return nil
	}
	var f Fields
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			if f == nil {
				f = Fields{}
			}
			f.Add(v.GetField(), v.GetDescription())
		}
	}
	return f
}
