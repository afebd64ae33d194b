package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cobraspace/cobraspace/platform/fielderr"
	"github.com/cobraspace/cobraspace/services/gateway/internal/ratelimit"
)

// httpStatus is THE table from gRPC status codes to HTTP statuses. Codes
// not listed are 500. The services write the messages of every listed
// code for end users (see the .proto files), so they are passed through;
// a 500 never shows the service's text.
var httpStatus = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.Aborted:            http.StatusConflict,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DeadlineExceeded:   http.StatusServiceUnavailable,
	codes.Canceled:           http.StatusServiceUnavailable,
}

// HTTPStatus returns the HTTP status for a gRPC code (500 when unmapped).
func HTTPStatus(c codes.Code) int {
	if s, ok := httpStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// rpcError writes the answer for an error returned by a service call:
// INVALID_ARGUMENT with field details → 400 {"field": [...]}; any other
// mapped code → {"detail": <the service's message>}; unmapped codes
// (INTERNAL, UNKNOWN, UNIMPLEMENTED, ...) and non-status errors → 500
// {"detail": "A server error occurred."}, logged here, once.
func rpcError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if writeRequestError(w, err) {
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		log.ErrorContext(r.Context(), "request failed", "err", err, "request_id", requestID(r.Context()))
		errorJSON(w, http.StatusInternalServerError, msgServerError)
		return
	}
	if f := fielderr.FromError(err); len(f) > 0 {
		fieldErrors(w, f)
		return
	}
	code := HTTPStatus(st.Code())
	switch {
	case code == http.StatusInternalServerError:
		log.ErrorContext(r.Context(), "service call failed", "code", st.Code().String(), "err", st.Message(), "request_id", requestID(r.Context()))
		errorJSON(w, code, msgServerError)
	case st.Code() == codes.Canceled || errors.Is(r.Context().Err(), context.Canceled):
		// The client went away; nobody reads this answer.
		errorJSON(w, code, msgUnavailable)
	case code == http.StatusServiceUnavailable:
		log.WarnContext(r.Context(), "service unavailable", "code", st.Code().String(), "err", st.Message(), "request_id", requestID(r.Context()))
		// UNAVAILABLE is also what the gRPC client itself reports for a
		// refused connection, with transport details in the message: never
		// pass those on.
		errorJSON(w, code, msgUnavailable)
	default:
		msg := st.Message()
		if msg == "" {
			msg = http.StatusText(code)
		}
		setRetryAfter(w, st)
		errorJSON(w, code, msg)
	}
}

// setRetryAfter turns a google.rpc.RetryInfo detail (the user service's
// login throttling says how long to wait) into a Retry-After header.
func setRetryAfter(w http.ResponseWriter, st *status.Status) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetrySeconds(ri.GetRetryDelay().AsDuration())))
			return
		}
	}
}
