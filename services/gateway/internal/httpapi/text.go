package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/cobraspace/cobraspace/platform/safetext"
)

// Every piece of client text that reaches a service passes safetext.Check
// here first (NUL, control characters, invalid UTF-8 → 400): the path and
// query of every route (checkURL, in route), every decoded JSON body
// (decodeJSON) and the multipart profile form (readProfileForm). A NUL
// that reached PostgreSQL failed its whole statement: a 500, and for chat
// sends every other message of the same group commit.

// checkURL refuses a request whose path or query holds text that
// safetext refuses: 400 {"<param>": [...]} for a query parameter,
// {"detail": ...} for the path.
func checkURL(u *url.URL) error {
	if err := safetext.Check(u.Path); err != nil {
		return &requestError{status: http.StatusBadRequest, detail: err.Error()}
	}
	if u.RawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(u.RawQuery) // malformed pairs are dropped, as r.URL.Query() does
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same answer every time
	for _, k := range keys {
		if err := safetext.Check(k); err != nil {
			return &requestError{status: http.StatusBadRequest, detail: err.Error()}
		}
		for _, v := range q[k] {
			if err := safetext.Check(v); err != nil {
				return fieldError(k, err.Error())
			}
		}
	}
	return nil
}

// checkStrings refuses a decoded request body (a pointer to a struct) that
// holds text safetext refuses anywhere: in its fields, nested lists,
// objects and map keys, and in fields kept as raw JSON. The 400 names the
// top-level JSON field.
func checkStrings(v any) error {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		if err := checkValue(rv); err != nil {
			return &requestError{status: http.StatusBadRequest, detail: err.Error()}
		}
		return nil
	}
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if err := checkValue(rv.Field(i)); err != nil {
			return fieldError(jsonName(f), err.Error())
		}
	}
	return nil
}

var rawJSONType = reflect.TypeFor[json.RawMessage]()

// checkValue checks every string within v.
func checkValue(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		return safetext.Check(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkValue(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Type() == rawJSONType {
			// Decoded later by the handler (e.g. tags as names or
			// objects): check what it will find.
			var decoded any
			if json.Unmarshal(v.Bytes(), &decoded) != nil {
				return nil // the handler answers the malformed value
			}
			return checkValue(reflect.ValueOf(&decoded))
		}
		for i := range v.Len() {
			if err := checkValue(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := checkValue(it.Key()); err != nil {
				return err
			}
			if err := checkValue(it.Value()); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if err := checkValue(v.Field(i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonName is the JSON name of a struct field.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return f.Name
	}
	return name
}
