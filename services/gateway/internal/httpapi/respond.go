package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Messages of the errors the gateway itself answers (DRF wording where the
// original had one).
const (
	msgNotFound         = "Not found."
	msgServerError      = "A server error occurred."
	msgTooLarge         = "Request body is too large."
	msgNoCredentials    = "Authentication credentials were not provided."
	msgTokenNotValid    = "Given token not valid."
	msgRequired         = "This field is required."
	msgBlank            = "This field may not be blank."
	msgUnknownField     = "Unknown field."
	msgNotUTF8          = "JSON parse error - request body is not valid UTF-8."
	msgExpectedObject   = "Invalid data. Expected a dictionary."
	msgUnavailable      = "The service is temporarily unavailable. Try again later."
	msgMethodNotAllowed = "Method \"%s\" not allowed."
)

// maxBodyBytes is the default limit of a request body (docs/api.md: 1 MiB).
const maxBodyBytes = 1 << 20

// encode writes v as JSON with status. HTML-sensitive characters are left
// as they are (no \u003c): responses are JSON, never HTML, and clients
// compare strings byte for byte.
func encode(w http.ResponseWriter, status int, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		// Only a programming error (an unencodable type) gets here.
		http.Error(w, `{"detail":"A server error occurred."}`, http.StatusInternalServerError)
		return
	}
	writeJSON(w, status, body)
}

// marshalJSON is encode's encoding, for answers kept to be written again.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeJSON writes an encoded JSON body with status. The length is set so
// that net/http sends the body as it is rather than in chunks.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) //nolint:gosec // G705: an encoded JSON body sent as application/json, not HTML
}

// detail is the body of every non-field error: {"detail": "..."}.
type detail struct {
	Detail string `json:"detail"`
}

// respond answers a service call that returned v and err: err through
// rpcError, otherwise conv(v) as JSON with status.
func respond[T, J any](s *Server, w http.ResponseWriter, r *http.Request, status int, v T, err error, conv func(T) J) {
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	encode(w, status, conv(v))
}

// convert converts every item with conv; the result is never nil, so an
// empty list encodes as [] rather than null.
func convert[T, J any](items []T, conv func(T) J) []J {
	out := make([]J, 0, len(items))
	for _, it := range items {
		out = append(out, conv(it))
	}
	return out
}

// respondNoContent answers a service call that returns nothing the client
// sees (a delete): err through rpcError, otherwise 204.
func (s *Server) respondNoContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		rpcError(w, r, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errorJSON answers {"detail": msg} with status.
func errorJSON(w http.ResponseWriter, status int, msg string) {
	encode(w, status, detail{Detail: msg})
}

// fieldErrors answers 400 {"field": ["msg", ...]}.
func fieldErrors(w http.ResponseWriter, fields map[string][]string) {
	encode(w, http.StatusBadRequest, fields)
}

// requestError is a client error found while reading a request; respond
// writes it.
type requestError struct {
	status int
	detail string              // {"detail": ...} when fields is nil
	fields map[string][]string // 400 field errors
}

func (e *requestError) Error() string {
	if e.fields != nil {
		return fmt.Sprintf("%d %v", e.status, e.fields)
	}
	return fmt.Sprintf("%d %s", e.status, e.detail)
}

func (e *requestError) write(w http.ResponseWriter) {
	if e.fields != nil {
		encode(w, e.status, e.fields)
		return
	}
	errorJSON(w, e.status, e.detail)
}

func fieldError(field, msg string) *requestError {
	return &requestError{status: http.StatusBadRequest, fields: map[string][]string{field: {msg}}}
}

// writeRequestError writes err when it is a *requestError and reports
// whether it did.
func writeRequestError(w http.ResponseWriter, err error) bool {
	var re *requestError
	if errors.As(err, &re) {
		re.write(w)
		return true
	}
	return false
}

// hasBody reports whether r carries a request body at all.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && (r.ContentLength > 0 || r.ContentLength == -1)
}

// mediaType returns the media type of r's Content-Type, lower case.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// unsupportedMediaType is the 415 for a body of media type mt.
func unsupportedMediaType(mt string) *requestError {
	return &requestError{
		status: http.StatusUnsupportedMediaType,
		detail: fmt.Sprintf("Unsupported media type %q in request.", mt),
	}
}

// decode reads r's JSON body into v (a pointer to a struct). An empty body
// decodes as {}. It returns a *requestError for everything the client got
// wrong: 415 when the body is not application/json, 413 when it is over
// the route's limit, 400 for invalid UTF-8, bad syntax, a non-object,
// unknown fields ({"field": ["Unknown field."]}), wrong value types and
// text that safetext refuses (NUL, control characters; see text.go).
func decode(r *http.Request, v any) error {
	if !hasBody(r) {
		return nil
	}
	if mt := mediaType(r); mt != "application/json" {
		return unsupportedMediaType(mt)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return readError(err)
	}
	return decodeJSON(body, v)
}

// readError turns a body read failure into 413 (over the limit) or 400.
func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &requestError{status: http.StatusRequestEntityTooLarge, detail: msgTooLarge}
	}
	return &requestError{status: http.StatusBadRequest, detail: "Could not read the request body."}
}

// decodeJSON is decode for a body already read.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD; text
	// stored that way would be corrupted, so refuse it.
	if !utf8.Valid(body) {
		return &requestError{status: http.StatusBadRequest, detail: msgNotUTF8}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &requestError{status: http.StatusBadRequest, detail: "JSON parse error - extra data after the JSON value."}
	}
	return checkStrings(v)
}

// jsonError converts an encoding/json error into a client error without
// echoing Go type names or internal text.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &requestError{status: http.StatusBadRequest,
			detail: fmt.Sprintf("JSON parse error - invalid syntax at byte %d.", syn.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{status: http.StatusBadRequest, detail: "JSON parse error - unexpected end of input."}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &requestError{status: http.StatusBadRequest,
				detail: fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", jsonKind(typ.Value))}
		}
		field := typ.Field
		if i := strings.IndexByte(field, '.'); i >= 0 {
			field = field[:i]
		}
		return fieldError(field, typeMessage(typ.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldError(strings.Trim(name, `"`), msgUnknownField)
	}
	return &requestError{status: http.StatusBadRequest, detail: "JSON parse error - invalid JSON."}
}

func jsonKind(v string) string {
	switch v {
	case "array":
		return "list"
	case "string", "number", "bool":
		return v
	}
	return "a non-object value"
}

// typeMessage is the DRF-style message for a value of the wrong JSON type.
func typeMessage(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "Not a valid string."
	case reflect.Bool:
		return "Must be a valid boolean."
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "A valid integer is required."
	case reflect.Float32, reflect.Float64:
		return "A valid number is required."
	case reflect.Slice, reflect.Array:
		return "Expected a list of items."
	case reflect.Map, reflect.Struct:
		return "Expected a dictionary of items."
	}
	return "Invalid value."
}

// readRequest decodes r's JSON body (see decode) into a T and, when check
// is not nil, lets check add field errors about it. It answers the
// client's mistakes itself (rpcError, or 400 with the field errors) and
// reports whether the handler may go on with the request.
func readRequest[T any](s *Server, w http.ResponseWriter, r *http.Request, check func(req *T, errs map[string][]string)) (T, bool) {
	var req T
	if err := decode(r, &req); err != nil {
		rpcError(w, r, s.log, err)
		return req, false
	}
	if check == nil {
		return req, true
	}
	errs := map[string][]string{}
	check(&req, errs)
	if len(errs) > 0 {
		fieldErrors(w, errs)
		return req, false
	}
	return req, true
}

// required adds "This field is required." for a missing value and "This
// field may not be blank." for an empty one.
func required(errs map[string][]string, field string, v *string) {
	switch {
	case v == nil:
		errs[field] = append(errs[field], msgRequired)
	case strings.TrimSpace(*v) == "":
		errs[field] = append(errs[field], msgBlank)
	}
}

// str returns *p, or "" for nil.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
