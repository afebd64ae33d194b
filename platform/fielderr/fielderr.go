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

// Err returns nil when f is empty, else the INVALID_ARGUMENT status error
// whose message is f.First().
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	first := f.First()
	st, err := status.New(codes.InvalidArgument, first).WithDetails(f.BadRequest(""))
	if err != nil { // only when details cannot be marshalled
		return status.Error(codes.InvalidArgument, first)
	}
	return st.Err()
}

// First returns the first message of the first field in name order ("" when
// f is empty): the one-line summary of f.
func (f Fields) First() string {
	for _, k := range f.names() {
		if len(f[k]) > 0 {
			return f[k][0]
		}
	}
	return ""
}

// BadRequest returns f as the google.rpc.BadRequest detail that FromError
// reads, fields in name order; reason, when set, is every violation's
// machine-readable cause.
func (f Fields) BadRequest(reason string) *errdetails.BadRequest {
	br := &errdetails.BadRequest{}
	for _, k := range f.names() {
		for _, m := range f[k] {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: k, Description: m, Reason: reason})
		}
	}
	return br
}

func (f Fields) names() []string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
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
