package fielderr

import (
	"errors"
	"reflect"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRoundTrip(t *testing.T) {
	f := Fields{}
	f.Add("password", "too short")
	f.Add("password", "too common")
	f.Add("email", "taken")
	err := f.Err()
	if got := status.Code(err); got != codes.InvalidArgument {
		t.Fatalf("code: got %v, want InvalidArgument", got)
	}
	if got := FromError(err); !reflect.DeepEqual(got, f) {
		t.Errorf("FromError: got %v, want %v", got, f)
	}
}

func TestEmptyAndForeign(t *testing.T) {
	if err := (Fields{}).Err(); err != nil {
		t.Errorf("empty Fields: got %v, want nil", err)
	}
	for _, err := range []error{nil, errors.New("x"), status.Error(codes.NotFound, "nope"), status.Error(codes.InvalidArgument, "no details")} {
		if got := FromError(err); got != nil {
			t.Errorf("FromError(%v): got %v, want nil", err, got)
		}
	}
}
