package httpapi

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"
)

// TestDecodeRefusesUnstorableText: every string of a decoded body is
// checked, however deeply nested or kept as raw JSON, and the 400 names
// the top-level field.
func TestDecodeRefusesUnstorableText(t *testing.T) {
	type body struct {
		Name  *string         `json:"name"`
		Tags  json.RawMessage `json:"tags"`
		Items *[]string       `json:"items"`
		Extra any             `json:"extra"`
		Meta  map[string]int  `json:"meta"`
	}
	for _, c := range []struct {
		in     string
		fields map[string][]string // nil: accepted
	}{
		{`{"name":"ok\ttab\r\nline \ud800"}`, nil},
		{`{"name":"a\u0000"}`, map[string][]string{"name": {"Null characters are not allowed."}}},
		{`{"name":"a\u001b"}`, map[string][]string{"name": {"Control characters are not allowed."}}},
		{`{"name":"a\u0085"}`, map[string][]string{"name": {"Control characters are not allowed."}}},
		{`{"tags":[{"name":"go\u0000"}]}`, map[string][]string{"tags": {"Null characters are not allowed."}}},
		{`{"tags":"x\u0007"}`, map[string][]string{"tags": {"Control characters are not allowed."}}},
		{`{"items":["a","b\u0000"]}`, map[string][]string{"items": {"Null characters are not allowed."}}},
		{`{"extra":{"deep":[{"x":"\u0000"}]}}`, map[string][]string{"extra": {"Null characters are not allowed."}}},
		{`{"meta":{"k\u0000":1}}`, map[string][]string{"meta": {"Null characters are not allowed."}}},
	} {
		var v body
		err := decodeJSON([]byte(c.in), &v)
		if c.fields == nil {
			if err != nil {
				t.Errorf("%s: got %v, want accepted", c.in, err)
			}
			continue
		}
		var re *requestError
		ok := errors.As(err, &re)
		if !ok || re.status != 400 || !reflect.DeepEqual(re.fields, c.fields) {
			t.Errorf("%s: got %v, want 400 %v", c.in, err, c.fields)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		raw    string
		fields map[string][]string
		detail string
	}{
		{raw: "/api/post/?search=go%20lang&tag=%E2%9C%93"},
		{raw: "/api/post/?tag=go%00", fields: map[string][]string{"tag": {"Null characters are not allowed."}}},
		{raw: "/api/post/?search=a&keyword=%1B", fields: map[string][]string{"keyword": {"Control characters are not allowed."}}},
		{raw: "/api/post/?cursor=%ED%A0%80", fields: map[string][]string{"cursor": {"Invalid UTF-8 text."}}},
		{raw: "/api/post/?a%00=1", detail: "Null characters are not allowed."},
		{raw: "/media/x%00.png", detail: "Null characters are not allowed."},
		{raw: "/media/x%FF.png", detail: "Invalid UTF-8 text."},
	} {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatal(err)
		}
		err = checkURL(u)
		if c.fields == nil && c.detail == "" {
			if err != nil {
				t.Errorf("%s: got %v, want accepted", c.raw, err)
			}
			continue
		}
		var re *requestError
		ok := errors.As(err, &re)
		if !ok || re.status != 400 || !reflect.DeepEqual(re.fields, c.fields) || re.detail != c.detail {
			t.Errorf("%s: got %#v, want 400 %v %q", c.raw, err, c.fields, c.detail)
		}
	}
}
